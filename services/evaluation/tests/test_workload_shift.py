"""The workload shift end to end, on SQLite and PostgreSQL: seeded weekly data with a known effect at
the practices a post serves, posted through the API, and the answer checked against the same
Δ values computed here and run through scipy's Welch test.

The register (its own, built once): ICB QAA with 12 practices in 3 PCNs, ICB QBB with 3 practices.
- Post 1: a clinical pharmacist of U10001 serving A10001, A10002 and A10003 from Wednesday 5 June 2024.
- Post 2: a clinical pharmacist of U10002 serving A10005 since January: not a comparison practice.
- Post 3: a first contact physiotherapist of U10003 serving A10009 from 5 June: another role, still comparable.
- Post 4: a clinical pharmacist of U20001 (QBB) serving B20001 from 5 June 2024: its ICB has too few
  comparison practices, so the nation's are used.
- Post 5: a first contact physiotherapist of U10001 serving A10004 from 10 April 2024: a second role of
  the PCN, with windows of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from scipy import stats

from arrs_kit import migrate
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, BACKENDS, DatabaseFactory, GatewaySigner, asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app as create_budget
from evaluation.clients.budget import BudgetClient
from evaluation.clients.roles import RolesClient
from evaluation.config import EvaluationSettings
from evaluation.main import create_app
from roles.config import RolesSettings
from roles.main import create_app as create_roles

QAA = [f"A1{n:04d}" for n in range(1, 13)]
QBB = ["B20001", "B20002", "B20003"]
PCNS = [
    {"code": "U10001", "icb_code": "QAA", "practice_codes": QAA[0:4]},
    {"code": "U10002", "icb_code": "QAA", "practice_codes": QAA[4:8]},
    {"code": "U10003", "icb_code": "QAA", "practice_codes": QAA[8:12]},
    {"code": "U20001", "icb_code": "QBB", "practice_codes": QBB},
]
START = date(2024, 6, 5)
START_WEEK = date(2024, 6, 3)
WEEKS = 12
EFFECT = -5.0  # GP attended appointments per 1,000 patients per week, at the practices served
AS_OF = "2024-12-01"


def post(pcn: str, role: str, practices: list[str], start: str) -> dict[str, Any]:
    return {
        "pcn_code": pcn,
        "role_code": role,
        "afc_band": "7",
        "geography": "national",
        "hours_per_week": "37.5",
        "start_date": start,
        "employment_model": "pcn_lead_practice",
        "employer_code": practices[0],
        "practice_codes": practices,
        "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
        "baseline": False,
        "display_name": f"{role} at {pcn}",
    }


@pytest.fixture(scope="module")
def register(database_factory: DatabaseFactory) -> Iterator[tuple[TestClient, TestClient]]:
    roles_url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    budget_url = database_factory.create("budget", "sqlite", lambda u: migrate.upgrade("budget", u))
    with TestClient(create_roles(RolesSettings(database_url=roles_url), configure_logs=False)) as roles:
        catalogue = RoleCatalogue(roles, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=3600)
        app = create_budget(BudgetSettings(database_url=budget_url), configure_logs=False, catalogue=catalogue)
        with TestClient(app) as budget:
            auth = GatewaySigner(ADMIN)
            for icb in ("QAA", "QBB"):
                assert budget.post("/v1/icbs", json={"code": icb, "name": icb}, auth=auth).status_code == 201
            for pcn in PCNS:
                body = {**pcn, "name": pcn["code"], "list_size": 40_000, "effective_date": "2024-01-01"}
                assert budget.post("/v1/pcns", json=body, auth=auth).status_code == 201
            for body in (
                post("U10001", "clinical_pharmacist", QAA[0:3], START.isoformat()),
                post("U10002", "clinical_pharmacist", [QAA[4]], "2024-01-01"),
                post("U10003", "first_contact_physiotherapist", [QAA[8]], START.isoformat()),
                post("U20001", "clinical_pharmacist", [QBB[0]], START.isoformat()),
                post("U10001", "first_contact_physiotherapist", [QAA[3]], "2024-04-10"),
            ):
                created = budget.post("/v1/posts", json=body, auth=auth)
                assert created.status_code == 201, created.text
            yield roles, budget


def weekly_data(seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, np.ndarray]]:
    """Workload and list-size records, and each practice's weekly rate as the service should see it."""
    rng = np.random.default_rng(seed)
    weeks = [START_WEEK + timedelta(days=7 * i) for i in range(-WEEKS, WEEKS + 1)]
    treated = {*QAA[0:3], QBB[0]}
    workload, sizes, rates = [], [], {}
    for practice in QAA + QBB:
        patients = int(rng.integers(8_000, 12_000))
        base = float(rng.uniform(50, 70))
        months = sorted({w.replace(day=1) for w in weeks})
        sizes += [
            {"practice_code": practice, "month": m.strftime("%Y-%m"), "registered_patients": patients} for m in months
        ]
        series = []
        for week in weeks:
            after = week > START_WEEK
            rate = (
                base + rng.normal(0, 1.0) + (1.0 if after else 0.0) + (EFFECT if after and practice in treated else 0.0)
            )
            gp = round(rate * patients / 1000)
            series.append(gp * 1000 / patients)
            common = {
                "practice_code": practice,
                "grain": "week",
                "period_start": week.isoformat(),
                "mode": "face_to_face",
            }
            workload.append(
                {
                    **common,
                    "hcp_role": "gp",
                    "national_category": "general_consultation_routine",
                    "status": "attended",
                    "appointments": gp,
                }
            )
            workload.append(
                {
                    **common,
                    "hcp_role": "nurse",
                    "national_category": "planned_clinics",
                    "status": "attended",
                    "appointments": 40,
                }
            )
            workload.append(
                {
                    **common,
                    "hcp_role": "gp",
                    "national_category": "general_consultation_routine",
                    "status": "dna",
                    "appointments": 9,
                }
            )
            if practice in treated and after:
                role = {"hcp_role": "clinical_pharmacist", "national_category": "structured_medication_review"}
                workload.append({**common, **role, "status": "attended", "appointments": 30})
        rates[practice] = np.array(series)
    return workload, sizes, rates


def deltas(rates: dict[str, np.ndarray], practices: list[str]) -> list[float]:
    # Index WEEKS is the start week: excluded. Before: 0..WEEKS-1; after: WEEKS+1..2*WEEKS.
    return [float(rates[p][WEEKS + 1 :].mean() - rates[p][:WEEKS].mean()) for p in practices]


@pytest.fixture(params=BACKENDS)
async def loaded(
    request: pytest.FixtureRequest, database_factory: DatabaseFactory, register: tuple[TestClient, TestClient]
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, np.ndarray]]]:
    url = database_factory.create("evaluation", request.param, lambda u: migrate.upgrade("evaluation", u))
    roles, budget = register
    app: FastAPI = create_app(
        EvaluationSettings(database_url=url),
        configure_logs=False,
        budget=BudgetClient(budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0),
        roles=RolesClient(roles, gateway_secret=DEV_GATEWAY_SECRET),
    )
    workload, sizes, rates = weekly_data()
    async with asgi_client(app, principal=ADMIN) as client:
        assert (await client.post("/v1/workload", json=workload)).status_code == 200
        assert (await client.post("/v1/list-sizes", json=sizes)).status_code == 200
        yield client, rates
    database_factory.drop(url)


async def test_the_injected_effect_is_recovered_and_matches_scipy(
    loaded: tuple[httpx.AsyncClient, dict[str, np.ndarray]],
) -> None:
    client, rates = loaded
    response = await client.get("/v1/evaluations/posts/1/workload-shift", params={"weeks": WEEKS, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    body = response.json()
    treated = QAA[0:3]
    comparison = [p for p in QAA if p not in (*treated, QAA[4])]  # A10005 has a pharmacist: left out
    assert (body["n_treated"], body["n_comparison"], body["comparison_scope"]) == (3, 8, "icb")
    welch = stats.ttest_ind(deltas(rates, treated), deltas(rates, comparison), equal_var=False)
    interval = welch.confidence_interval(0.95)
    expected = float(np.mean(deltas(rates, treated)) - np.mean(deltas(rates, comparison)))
    assert body["estimate"] == pytest.approx(expected, abs=1e-4)
    assert body["df"] == pytest.approx(welch.df, abs=1e-4)
    assert (body["ci_low"], body["ci_high"]) == pytest.approx((interval.low, interval.high), abs=1e-4)
    assert body["ci_low"] <= EFFECT <= body["ci_high"] and body["ci_high"] < 0  # recovered, and not zero
    assert body["before_after"] == pytest.approx(np.mean(deltas(rates, treated)), abs=1e-4)
    assert body["gp_share_after"] < body["gp_share_before"]
    # 30 pharmacist appointments a week at each of three practices, by one WTE.
    assert body["role_appointments_per_wte_per_week"] == pytest.approx(90.0)
    assert body["windows"] == {
        "before_first": "2024-03-11",
        "before_last": "2024-06-02",
        "start_week": "2024-06-03",
        "after_first": "2024-06-10",
        "after_last": "2024-09-01",
    }
    assert [c["code"] for c in body["caveats"]] == ["experimental_data"]


async def test_practices_without_the_role_give_an_interval_around_zero(
    loaded: tuple[httpx.AsyncClient, dict[str, np.ndarray]],
) -> None:
    client, _rates = loaded
    # The physiotherapist's practice had no pharmacist and no injected effect on GP appointments.
    response = await client.get("/v1/evaluations/posts/3/workload-shift", params={"weeks": WEEKS, "as_of": AS_OF})
    body = response.json()
    assert body["n_treated"] == 1 and "single_treated_practice" in [c["code"] for c in body["caveats"]]
    assert body["ci_low"] <= 0 <= body["ci_high"], body


async def test_too_few_comparison_practices_in_the_icb_falls_back_to_the_nation(
    loaded: tuple[httpx.AsyncClient, dict[str, np.ndarray]],
) -> None:
    client, _rates = loaded
    body = (await client.get("/v1/evaluations/posts/4/workload-shift", params={"as_of": AS_OF})).json()
    assert body["comparison_scope"] == "national" and "national_comparison" in [c["code"] for c in body["caveats"]]
    # Every practice without a pharmacist in either window: QBB's other two and QAA's but A10001-3 and A10005.
    assert body["n_comparison"] == 2 + 8
    assert body["ci_low"] <= EFFECT <= body["ci_high"]


async def test_no_estimate_without_enough_data(loaded: tuple[httpx.AsyncClient, dict[str, np.ndarray]]) -> None:
    client, _rates = loaded
    early = (await client.get("/v1/evaluations/posts/1/workload-shift", params={"as_of": "2024-08-20"})).json()
    assert (early["estimate"], early["reason"]) == (None, "after_window_not_ended")
    # More weeks than the data holds: no practice has complete windows.
    wide = (await client.get("/v1/evaluations/posts/1/workload-shift", params={"weeks": 20, "as_of": AS_OF})).json()
    assert (wide["estimate"], wide["reason"], wide["n_treated"]) == (None, "no_treated_data", 0)
    assert wide["practices_left_out"] == ["A10001", "A10002", "A10003"]
    assert_problem(
        await client.get("/v1/evaluations/posts/1/workload-shift", params={"weeks": 0}), 422, "validation-error"
    )


async def test_a_role_in_a_pcn(loaded: tuple[httpx.AsyncClient, dict[str, np.ndarray]]) -> None:
    client, _rates = loaded
    role = (
        await client.get(
            "/v1/evaluations/pcns/U10001/roles/clinical_pharmacist/workload-shift", params={"as_of": AS_OF}
        )
    ).json()
    by_post = (await client.get("/v1/evaluations/posts/1/workload-shift", params={"as_of": AS_OF})).json()
    assert role["estimate"] == by_post["estimate"] and role["treated_practices"] == ["A10001", "A10002", "A10003"]
    none = (
        await client.get("/v1/evaluations/pcns/U10001/roles/paramedic/workload-shift", params={"as_of": AS_OF})
    ).json()
    assert (none["estimate"], none["reason"]) == (None, "no_posts_of_role")


async def test_a_pcn_summary_estimates_its_roles_together_as_each_alone(
    loaded: tuple[httpx.AsyncClient, dict[str, np.ndarray]],
) -> None:
    """The summary estimates every role of the PCN in one statement over all their windows
    (``shift.workload_shifts``); each role's answer is the one its own endpoint gives."""
    client, _rates = loaded
    params: dict[str, str | int] = {"weeks": 4, "as_of": AS_OF}
    summary = (await client.get("/v1/evaluations/pcns/U10001/summary", params=params)).json()
    together = {s["role_code"]: s for s in summary["workload_shift"]}
    assert set(together) == {"clinical_pharmacist", "first_contact_physiotherapist"}
    starts = set()
    for role, found in together.items():
        alone = (await client.get(f"/v1/evaluations/pcns/U10001/roles/{role}/workload-shift", params=params)).json()
        assert alone["estimate"] is not None, alone
        for field in ("estimate", "ci_low", "ci_high", "n_treated", "n_comparison", "comparison_scope", "start_date"):
            assert found[field] == alone[field], (role, field)
        starts.add(alone["windows"]["start_week"])
    assert starts == {"2024-06-03", "2024-04-08"}  # two different windows in the one statement
    # The pharmacist's effect is there, the physiotherapist's practice moved only by noise.
    assert together["clinical_pharmacist"]["ci_high"] < 0
    assert (
        together["first_contact_physiotherapist"]["ci_low"] <= 0 <= together["first_contact_physiotherapist"]["ci_high"]
    )
