"""Job plans through the API, on SQLite and PostgreSQL: the six questions, versions kept, If-Match,
starting from the role's template, and who may see and change them."""

from __future__ import annotations

import socket
from typing import Any

import httpx
from fastapi import FastAPI

from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import asgi_client, assert_problem
from evaluation.clients.budget import BudgetClient
from evaluation.clients.roles import RolesClient
from evaluation.config import EvaluationSettings
from evaluation.main import create_app

PLAN: dict[str, Any] = {
    "purpose": "Takes medicines work off GPs.",
    "responsibilities": ["Structured medication reviews", "Discharge reconciliation"],
    "practice_codes": ["a81001", "A81002"],
    "sessions": [{"day": "mon", "part": "am", "practice_code": "A81001", "activity": "SMR clinic"}],
    "accountable": {"name": "Dr J Patel", "role": "Clinical director"},
    "supporting": [{"name": "S Green", "role": "PCN manager"}],
    "expected_outcomes": ["Fewer medication queries reaching GPs"],
    "measurement_frequency": "monthly",
    "measurement_method": "Appointments data",
    "supervision": {"supervisor": {"name": "Dr A Smith", "role": "GP partner"}, "frequency": "monthly"},
}


async def test_a_job_plan_is_created_replaced_with_if_match_and_every_version_kept(as_pcn: httpx.AsyncClient) -> None:
    created = await as_pcn.put("/v1/job-plans/1", json=PLAN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["version"], body["complete"], body["unanswered"]) == (1, True, [])
    assert body["practice_codes"] == ["A81001", "A81002"]
    assert (body["pcn_code"], body["role_code"], body["created_by"]) == (
        "U00001",
        "clinical_pharmacist",
        "Riverside PCN manager",
    )
    first_tag = created.headers["etag"]
    assert (await as_pcn.get("/v1/job-plans/1")).headers["etag"] == first_tag

    changed = {**PLAN, "purpose": "Takes medicines work and long-term condition reviews off GPs."}
    assert_problem(await as_pcn.put("/v1/job-plans/1", json=changed), 428, "precondition-required")
    assert_problem(
        await as_pcn.put("/v1/job-plans/1", json=changed, headers={"If-Match": '"job-plan-1-v9"'}),
        412,
        "precondition-failed",
    )
    replaced = await as_pcn.put("/v1/job-plans/1", json=changed, headers={"If-Match": first_tag})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    assert_problem(  # the old ETag is stale now
        await as_pcn.put("/v1/job-plans/1", json=PLAN, headers={"If-Match": first_tag}), 412, "precondition-failed"
    )
    versions = (await as_pcn.get("/v1/job-plans/1/versions")).json()["data"]
    assert [(v["version"], v["purpose"]) for v in versions] == [(2, changed["purpose"]), (1, PLAN["purpose"])]
    assert (await as_pcn.get("/v1/job-plans/1/versions/1")).json()["purpose"] == PLAN["purpose"]
    assert_problem(await as_pcn.get("/v1/job-plans/1/versions/3"), 404, "job-plan-version-not-found")
    csv = await as_pcn.get("/v1/job-plans/1/versions", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and len(csv.text.strip().splitlines()) == 3


async def test_a_plan_may_be_saved_before_every_question_is_answered(as_pcn: httpx.AsyncClient) -> None:
    draft = await as_pcn.put("/v1/job-plans/2", json={"purpose": "First contact MSK care.", "practice_codes": []})
    assert draft.status_code == 201
    assert draft.json()["complete"] is False
    assert draft.json()["unanswered"] == ["how_it_works", "people", "outcomes", "measurement", "supervision"]


async def test_bad_plans_are_refused_and_write_nothing(as_pcn: httpx.AsyncClient) -> None:
    body = assert_problem(
        await as_pcn.put("/v1/job-plans/2", json={**PLAN, "practice_codes": ["A81001", "A81002"]}),
        422,
        "practice-not-served",
    )
    assert "A81002" in body["detail"]  # post 2 serves A81001 only
    for bad in (
        {**PLAN, "measurement_frequency": "daily"},
        {**PLAN, "sessions": [{"day": "someday", "part": "am", "activity": "x"}]},
        {**PLAN, "purpose": "nul\x00byte"},
        {**PLAN, "unknown_field": 1},
        {**PLAN, "practice_codes": ["not-a-code"]},
    ):
        assert_problem(await as_pcn.put("/v1/job-plans/2", json=bad), 422, "validation-error")
    assert_problem(await as_pcn.get("/v1/job-plans/2"), 404, "job-plan-not-found")


async def test_a_plan_starts_from_the_roles_template(as_pcn: httpx.AsyncClient) -> None:
    started = await as_pcn.post("/v1/job-plans/1/from-template")
    assert started.status_code == 201, started.text
    plan, suggested = started.json()["job_plan"], started.json()["suggested_kpis"]
    assert plan["purpose"].startswith("Takes medicines-related work off GPs")
    assert plan["responsibilities"] and plan["practice_codes"] == ["A81001", "A81002"]
    assert plan["supervision"]["supervisor"] == {"name": "Dr A Smith", "role": "GP partner"}
    assert plan["supervision"]["frequency"] == "monthly"
    assert plan["unanswered"] == ["people"]  # the accountable person is the PCN's to name
    assert suggested and {k["name"] for k in suggested} == set(plan["expected_outcomes"])
    assert started.headers["location"] == "/v1/job-plans/1"
    assert_problem(await as_pcn.post("/v1/job-plans/1/from-template"), 409, "job-plan-exists")


async def test_who_may_see_and_change_a_job_plan(as_pcn: httpx.AsyncClient, client_as: Any, who: Any) -> None:
    assert (await as_pcn.put("/v1/job-plans/1", json=PLAN)).status_code == 201
    unknown = assert_problem(await as_pcn.get("/v1/job-plans/999"), 404, "post-not-found")
    async with client_as(who.ICB) as icb, client_as(who.DASHBOARD) as dashboard:
        assert (await icb.get("/v1/job-plans/1")).status_code == 200
        assert (await dashboard.get("/v1/job-plans/1")).status_code == 200
        for reader in (icb, dashboard):  # they see it, but only the PCN (or an admin) changes it
            assert_problem(await reader.put("/v1/job-plans/1", json=PLAN), 403, "forbidden")
            assert_problem(await reader.post("/v1/job-plans/1/from-template"), 403, "forbidden")
    async with client_as(who.OTHER_ICB) as other_icb, client_as(who.OTHER_PCN) as other_pcn:
        for outsider in (other_icb, other_pcn):
            # Out of scope is the same answer as a post that does not exist, for reads and writes.
            for response in (
                await outsider.get("/v1/job-plans/1"),
                await outsider.put("/v1/job-plans/1", json=PLAN),
                await outsider.post("/v1/job-plans/1/from-template"),
            ):
                body = assert_problem(response, 404, "post-not-found")
                assert body["detail"] == unknown["detail"].replace("999", "1")
                assert "U00001" not in response.text
    async with client_as(who.PRACTICE) as practice:
        assert_problem(await practice.get("/v1/job-plans/1"), 404, "post-not-found")  # no post is theirs


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_unreachable_budget_or_catalogue_is_503_and_writes_nothing(
    evaluation_url: str, evaluation_app: FastAPI, who: Any
) -> None:
    nowhere = f"http://127.0.0.1:{closed_port()}"
    down = create_app(
        EvaluationSettings(database_url=evaluation_url),
        configure_logs=False,
        budget=BudgetClient.over_http(nowhere, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0, timeout_s=2),
        roles=RolesClient.over_http(nowhere, gateway_secret=DEV_GATEWAY_SECRET, timeout_s=2),
    )
    async with asgi_client(down, principal=who.PCN) as client:
        assert_problem(await client.put("/v1/job-plans/1", json=PLAN), 503, "budget-unavailable")
        assert_problem(await client.get("/v1/evaluations/pcns/U00001/at-risk-posts"), 503, "budget-unavailable")
    roles_down = create_app(
        EvaluationSettings(database_url=evaluation_url),
        configure_logs=False,
        budget=evaluation_app.state.budget,
        roles=RolesClient.over_http(nowhere, gateway_secret=DEV_GATEWAY_SECRET, timeout_s=2),
    )
    async with asgi_client(roles_down, principal=who.PCN) as client:
        assert_problem(await client.post("/v1/job-plans/1/from-template"), 503, "roles-unavailable")
        assert_problem(await client.get("/v1/job-plans/1"), 404, "job-plan-not-found")  # nothing was written
