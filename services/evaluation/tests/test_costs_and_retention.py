"""True cost and retention through the API, on SQLite and PostgreSQL, from real claims in a real budget
service: reimbursed from approved and paid claims only, unfunded costs for the days in post, the gap
the PCN pays, cost per attended appointment, and posts that ended within 12 months of starting.

The register (its own): ICB QCC, PCN U30001 (C30001, C30002).
- Post 1: a clinical pharmacist since April 2024, £150 a month of unfunded costs.
- Post 2: a care coordinator from 16 September 2024 to 31 January 2025, £31 a month unfunded.
- Post 3: a physiotherapist from January to June 2023 (ended within 12 months).
- Post 4: a physiotherapist since January 2022.
Claims of post 1: October 2024 paid, November approved, December submitted (not counted).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from arrs_kit import migrate
from arrs_kit.principal import Principal
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

PCN = Principal(kind="pcn", client_id="t-pcn-30001", org_codes=("U30001",), name="U30001 manager")
OTHER_ICB = Principal(kind="icb", client_id="t-icb-qdd", org_codes=("QDD",), name="QDD team")


def post(role: str, start: str, leave: str | None, unfunded: int, hours: str = "37.5") -> dict[str, Any]:
    return {
        "pcn_code": "U30001",
        "role_code": role,
        "afc_band": "7",
        "geography": "national",
        "hours_per_week": hours,
        "start_date": start,
        "leave_date": leave,
        "employment_model": "pcn_lead_practice",
        "employer_code": "C30001",
        "practice_codes": ["C30001", "C30002"],
        "supervisor": {"name": "Dr B Jones", "role": "GP partner"},
        "baseline": False,
        "display_name": f"{role} from {start}",
        "unfunded_costs_monthly_pence": {"management_fee": unfunded - unfunded // 3, "supervision": unfunded // 3},
    }


@pytest.fixture(scope="module")
def register(database_factory: DatabaseFactory) -> Iterator[tuple[TestClient, TestClient, dict[str, int]]]:
    roles_url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    budget_url = database_factory.create("budget", "sqlite", lambda u: migrate.upgrade("budget", u))
    with TestClient(create_roles(RolesSettings(database_url=roles_url), configure_logs=False)) as roles:
        catalogue = RoleCatalogue(roles, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=3600)
        app = create_budget(BudgetSettings(database_url=budget_url), configure_logs=False, catalogue=catalogue)
        with TestClient(app) as budget:
            auth = GatewaySigner(ADMIN)

            def send(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
                response = budget.post(path, json=body or {}, auth=auth)
                assert response.status_code in (200, 201), response.text
                answer: dict[str, Any] = response.json()
                return answer

            send("/v1/icbs", {"code": "QCC", "name": "QCC"})
            send("/v1/icbs", {"code": "QDD", "name": "QDD"})
            pcn = {"code": "U30001", "name": "U30001", "icb_code": "QCC", "practice_codes": ["C30001", "C30002"]}
            send("/v1/pcns", {**pcn, "list_size": 20_000, "effective_date": "2021-04-01"})
            send(
                "/v1/pcns/U30001/budgets/2024-25/allocations",
                {"pot": "arrs", "amount_pence": 50_000_000, "reason": "t"},
            )
            for body in (
                post("clinical_pharmacist", "2024-04-01", None, 15_000),
                post("care_coordinator", "2024-09-16", "2025-01-31", 3_100),
                post("first_contact_physiotherapist", "2023-01-01", "2023-06-30", 0),
                post("first_contact_physiotherapist", "2022-01-01", None, 0),
            ):
                send("/v1/posts", body)
            costs = {"salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}
            amounts = {}
            for month, steps in (
                ("2024-10", ("submit", "approve", "pay")),
                ("2024-11", ("submit", "approve")),
                ("2024-12", ("submit",)),
            ):
                claim = send("/v1/claims", {"post_id": 1, "month": month, **costs})
                for step in steps:
                    reference = {"payment_reference": f"BACS-{month}"} if step == "pay" else None
                    send(f"/v1/claims/{claim['id']}/{step}", reference)
                amounts[month] = claim["reimbursable_pence"]
            yield roles, budget, amounts


@pytest.fixture(params=BACKENDS)
async def evaluation(
    request: pytest.FixtureRequest,
    database_factory: DatabaseFactory,
    register: tuple[TestClient, TestClient, dict[str, int]],
) -> AsyncIterator[Any]:
    url = database_factory.create("evaluation", request.param, lambda u: migrate.upgrade("evaluation", u))
    roles, budget, _ = register
    app = create_app(
        EvaluationSettings(database_url=url),
        configure_logs=False,
        budget=BudgetClient(budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0),
        roles=RolesClient(roles, gateway_secret=DEV_GATEWAY_SECRET),
    )
    # 30 attended pharmacist appointments a week at C30001 in October 2024 (Mondays 7, 14, 21, 28).
    weeks = [date(2024, 10, 7) + timedelta(days=7 * i) for i in range(4)]
    records = [
        {
            "practice_code": "C30001",
            "grain": "week",
            "period_start": w.isoformat(),
            "hcp_role": "clinical_pharmacist",
            "national_category": "structured_medication_review",
            "mode": "face_to_face",
            "status": "attended",
            "appointments": 30,
        }
        for w in weeks
    ]
    async with asgi_client(app, principal=ADMIN) as admin:
        assert (await admin.post("/v1/workload", json=records)).status_code == 200

    def client(principal: Principal) -> Any:
        return asgi_client(app, principal=principal)

    yield client
    database_factory.drop(url)


async def test_true_cost_per_post_and_month(evaluation: Any, register: tuple[Any, Any, dict[str, int]]) -> None:
    amounts = register[2]
    async with evaluation(PCN) as pcn:
        response = await pcn.get("/v1/evaluations/pcns/U30001/true-cost", params={"fy": "2024-25"})
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {(r["post_id"], r["month"]): r for r in body["posts"]}
    october, november, december = rows[(1, "2024-10")], rows[(1, "2024-11")], rows[(1, "2024-12")]
    assert (october["reimbursed_pence"], october["employment_cost_pence"]) == (amounts["2024-10"], 567_000)
    assert october["unfunded_pence"] == 15_000 and october["true_cost_pence"] == 582_000
    assert october["gap_pence"] == 582_000 - amounts["2024-10"]
    assert november["reimbursed_pence"] == amounts["2024-11"]  # approved, not yet paid: counted
    assert (december["reimbursed_pence"], december["employment_cost_pence"], december["true_cost_pence"]) == (
        0,
        None,
        None,
    )
    # The care coordinator: 15 of 30 days in September, every day to January, nothing after.
    assert rows[(2, "2024-09")]["unfunded_pence"] == 1_550 and rows[(2, "2024-09")]["days_in_post"] == 15
    assert rows[(2, "2025-01")]["unfunded_pence"] == 3_100 and (2, "2025-02") not in rows
    assert (3, "2024-04") not in rows and rows[(4, "2024-04")]["unfunded_pence"] == 0
    # Per role: October's pharmacist cost over its 120 attended appointments, rounded half up.
    role = next(r for r in body["roles"] if (r["role_code"], r["month"]) == ("clinical_pharmacist", "2024-10"))
    assert role["attended_appointments"] == 120
    total = amounts["2024-10"] + 15_000
    assert role["cost_per_appointment_pence"] == (2 * total + 120) // 240
    assert body["totals"]["reimbursed_pence"] == amounts["2024-10"] + amounts["2024-11"]


async def test_true_cost_as_csv_and_bad_input(evaluation: Any) -> None:
    async with evaluation(PCN) as pcn:
        posts = await pcn.get("/v1/evaluations/pcns/U30001/true-cost", params={"fy": "2024-25", "format": "csv"})
        table = list(csv.DictReader(io.StringIO(posts.text)))
        assert {"pcn_code", "fy", "post_id", "month", "reimbursed_pence", "gap_pence"} <= set(table[0])
        roles = await pcn.get(
            "/v1/evaluations/pcns/U30001/true-cost", params={"fy": "2024-25", "format": "csv", "rows": "roles"}
        )
        assert "cost_per_appointment_pence" in roles.text.splitlines()[0]
        assert_problem(
            await pcn.get("/v1/evaluations/pcns/U30001/true-cost", params={"fy": "2024-26"}),
            422,
            "invalid-financial-year",
        )
        assert_problem(await pcn.get("/v1/evaluations/pcns/U30001/true-cost"), 422, "validation-error")
    async with evaluation(OTHER_ICB) as outsider:
        response = await outsider.get("/v1/evaluations/pcns/U30001/true-cost", params={"fy": "2024-25"})
        assert_problem(response, 404, "pcn-not-found")


async def test_retention_per_role(evaluation: Any) -> None:
    async with evaluation(ADMIN) as admin:
        body = (await admin.get("/v1/evaluations/retention", params={"icb_code": "qcc", "as_of": "2025-06-01"})).json()
    rows = {r["role_code"]: r for r in body["data"]}
    assert body["scope"] == "icb:QCC"
    assert rows["first_contact_physiotherapist"] == {
        "role_code": "first_contact_physiotherapist",
        "posts": 2,
        "observed": 2,
        "ended_within_12_months": 1,
        "retention_rate": 0.5,
        "still_in_post": 1,
    }
    assert (rows["clinical_pharmacist"]["observed"], rows["clinical_pharmacist"]["retention_rate"]) == (1, 1.0)
    # Started in September 2024: not yet 12 months by June 2025, so in no rate.
    assert (rows["care_coordinator"]["observed"], rows["care_coordinator"]["retention_rate"]) == (0, None)
    async with evaluation(PCN) as pcn:
        own = (await pcn.get("/v1/evaluations/retention", params={"as_of": "2025-06-01", "format": "csv"})).text
        assert own.splitlines()[0].startswith("scope,as_of,role_code") and "pcn:U30001" in own
    async with evaluation(OTHER_ICB) as outsider:
        assert (await outsider.get("/v1/evaluations/retention", params={"icb_code": "QCC"})).json()["data"] == []
        assert_problem(
            await outsider.get("/v1/evaluations/retention", params={"pcn_code": "U30001"}), 404, "pcn-not-found"
        )


async def test_the_pcn_summary_agrees_with_each_analysis(evaluation: Any) -> None:
    params = {"fy": "2024-25", "as_of": "2025-02-15"}
    async with evaluation(PCN) as pcn:
        response = await pcn.get("/v1/evaluations/pcns/U30001/summary", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        cost = (await pcn.get("/v1/evaluations/pcns/U30001/true-cost", params={"fy": "2024-25"})).json()
        risk = (await pcn.get("/v1/evaluations/pcns/U30001/at-risk-posts", params={"as_of": "2025-02-15"})).json()
        shift = (
            await pcn.get(
                "/v1/evaluations/pcns/U30001/roles/clinical_pharmacist/workload-shift", params={"as_of": "2025-02-15"}
            )
        ).json()
        assert_problem(
            await pcn.get("/v1/evaluations/pcns/U30001/summary", params={"fy": "2024"}), 422, "validation-error"
        )
    assert {k: body["true_cost"][k] for k in cost["totals"]} == cost["totals"]
    assert body["at_risk"]["posts_evaluated"] == risk["posts_evaluated"] == 2  # the care coordinator has left
    assert [p["post_id"] for p in body["at_risk"]["posts"]] == [p["post_id"] for p in risk["data"]]
    pharmacist = next(s for s in body["workload_shift"] if s["role_code"] == "clinical_pharmacist")
    assert (pharmacist["estimate"], pharmacist["reason"]) == (shift["estimate"], shift["reason"])
    assert body["readiness"]["version"] == 0 and body["readiness"]["not_started"] == 36
    role = next(r for r in body["true_cost"]["roles"] if r["role_code"] == "clinical_pharmacist")
    assert role["attended_appointments"] == 120
    async with evaluation(ADMIN) as admin:
        rows = (
            await admin.get("/v1/evaluations/pcn-summaries", params={"icb_code": "QCC", "as_of": "2025-02-15"})
        ).json()
    assert [(r["pcn_code"], r["posts_evaluated"], r["posts_at_risk"]) for r in rows["data"]] == [("U30001", 2, 2)]
    async with evaluation(OTHER_ICB) as outsider:
        assert (await outsider.get("/v1/evaluations/pcn-summaries", params={"icb_code": "QCC"})).json()["data"] == []
