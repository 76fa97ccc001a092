"""KPI attainment and at-risk posts through the API, on SQLite and PostgreSQL, as of a fixed day: every
reason of domain.md §7, JSON and CSV, and scope.

The register (conftest): post 1 (U00001, a named supervisor), post 2 (U00001, supervisor "TBC"),
post 3 (U00001, left on 30 September 2024), post 4 (another ICB's PCN)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from arrs_kit.testing import assert_problem

from .factories import PLAN

AS_OF = "2024-11-15"  # October 2024 is the last ended month; the week of 4 November the last ended week


async def kpi(client: httpx.AsyncClient, post_id: int, values: dict[str, float], **body: Any) -> int:
    if (await client.get(f"/v1/job-plans/{post_id}")).status_code == 404:
        assert (await client.put(f"/v1/job-plans/{post_id}", json=PLAN)).status_code == 201
    spec = {"name": "SMRs", "unit": "count", "direction": "higher_is_better", "frequency": "monthly", "target": 40}
    created = await client.post(f"/v1/job-plans/{post_id}/kpis", json={**spec, **body})
    assert created.status_code == 201, created.text
    kpi_id: int = created.json()["id"]
    if values:
        batch = [{"period_start": k, "value": v} for k, v in values.items()]
        assert (await client.post(f"/v1/kpis/{kpi_id}/measurements", json=batch)).status_code == 200
    return kpi_id


async def at_risk(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/evaluations/pcns/U00001/at-risk-posts", params={"as_of": AS_OF, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def reasons(body: dict[str, Any]) -> dict[int, list[str]]:
    return {p["post_id"]: [r["code"] for r in p["reasons"]] for p in body["data"]}


async def test_posts_without_plans_kpis_or_a_named_supervisor(as_pcn: httpx.AsyncClient) -> None:
    body = await at_risk(as_pcn)
    # Post 3 left before the day of evaluation: it is not evaluated.
    assert body["posts_evaluated"] == 2 and body["as_of"] == AS_OF
    assert reasons(body) == {1: ["no_job_plan", "no_kpi"], 2: ["no_job_plan", "no_kpi", "no_named_supervisor"]}
    assert "'TBC'" in body["data"][1]["reasons"][2]["detail"]


async def test_drift_and_overdue_measurements_put_a_post_at_risk(as_pcn: httpx.AsyncClient) -> None:
    # Post 1: on track until August, then September at risk and October off track: drift 2, flagged.
    drifting = await kpi(as_pcn, 1, {"2024-07-01": 45, "2024-08-01": 41, "2024-09-01": 37, "2024-10-01": 20})
    assert reasons(await at_risk(as_pcn))[1] == ["drift"]
    # A second KPI on post 1 with nothing measured in September or October: overdue too.
    stale = await kpi(as_pcn, 1, {"2024-07-01": 50}, name="Queries resolved", unit="percent")
    body = await at_risk(as_pcn)
    post = next(p for p in body["data"] if p["post_id"] == 1)
    assert [(r["code"], r["kpi_ids"]) for r in post["reasons"]] == [
        ("no_recent_measurement", [stale]),
        ("drift", [drifting, stale]),  # a missing period is not on track either
    ]
    # On track again in October: the drift clears (the overdue KPI still drifts: two missing months).
    fixed = [{"period_start": "2024-10-01", "value": 40}]
    assert (await as_pcn.post(f"/v1/kpis/{drifting}/measurements", json=fixed)).status_code == 200
    post = next(p for p in (await at_risk(as_pcn))["data"] if p["post_id"] == 1)
    assert [(r["code"], r["kpi_ids"]) for r in post["reasons"]] == [
        ("no_recent_measurement", [stale]),
        ("drift", [stale]),
    ]
    # Retiring the stale KPI takes it out of both; the post is no longer at risk.
    assert (await as_pcn.post(f"/v1/kpis/{stale}/retire")).status_code == 200
    assert 1 not in reasons(await at_risk(as_pcn))


async def test_kpi_attainment_period_by_period(as_pcn: httpx.AsyncClient) -> None:
    kpi_id = await kpi(as_pcn, 1, {"2024-08-01": 41, "2024-09-01": 37, "2024-10-01": 20})
    weekly = await kpi(
        as_pcn,
        1,
        {"2024-10-21": 14, "2024-10-28": 16, "2024-11-04": 17},
        name="Minutes to triage",
        unit="minutes",
        direction="lower_is_better",
        frequency="weekly",
        target=15,
    )
    response = await as_pcn.get("/v1/evaluations/posts/1/kpi-attainment", params={"as_of": AS_OF})
    body = response.json()
    assert (body["post_id"], body["pcn_code"], body["as_of"], body["flagged"]) == (1, "U00001", AS_OF, True)
    monthly, by_week = body["kpis"]
    assert monthly["kpi_id"] == kpi_id and weekly == by_week["kpi_id"]
    assert [(p["period_start"], p["value"], p["status"]) for p in monthly["periods"]][-3:] == [
        ("2024-08-01", "41", "on_track"),
        ("2024-09-01", "37", "at_risk"),
        ("2024-10-01", "20", "off_track"),
    ]
    assert (monthly["drift"], monthly["flagged"], monthly["latest_status"]) == (2, True, "off_track")
    assert [p["status"] for p in by_week["periods"]][-3:] == ["on_track", "at_risk", "off_track"]
    assert by_week["drift"] == 2
    as_csv = await as_pcn.get("/v1/evaluations/posts/1/kpi-attainment", params={"as_of": AS_OF, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == len(monthly["periods"]) + len(by_week["periods"])
    assert {"post_id", "kpi_id", "period_start", "value", "target", "status", "drift"} <= set(rows[0])


async def test_at_risk_posts_as_csv_and_pages(as_pcn: httpx.AsyncClient) -> None:
    response = await as_pcn.get(
        "/v1/evaluations/pcns/u00001/at-risk-posts", params={"as_of": AS_OF, "format": "csv", "limit": 1}
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["post_id"], r["reason"]) for r in rows] == [("1", "no_job_plan"), ("1", "no_kpi")]
    rest = await at_risk(as_pcn, limit=1, cursor=response.headers["x-next-cursor"])
    assert [p["post_id"] for p in rest["data"]] == [2] and rest["next_cursor"] is None


async def test_scope_of_the_analyses(as_pcn: httpx.AsyncClient, client_as: Any, who: Any) -> None:
    async with client_as(who.ICB) as icb, client_as(who.DASHBOARD) as dashboard:
        assert reasons(await at_risk(icb)) == reasons(await at_risk(dashboard)) == reasons(await at_risk(as_pcn))
    async with client_as(who.OTHER_ICB) as outsider:
        assert_problem(await outsider.get("/v1/evaluations/pcns/U00001/at-risk-posts"), 404, "pcn-not-found")
        assert_problem(await outsider.get("/v1/evaluations/posts/1/kpi-attainment"), 404, "post-not-found")
    async with client_as(who.PRACTICE) as practice:
        assert_problem(await practice.get("/v1/evaluations/pcns/U00001/at-risk-posts"), 404, "pcn-not-found")
    assert_problem(await as_pcn.get("/v1/evaluations/pcns/U00003/at-risk-posts"), 404, "pcn-not-found")
    assert_problem(await as_pcn.get("/v1/evaluations/pcns/X1/at-risk-posts"), 422, "validation-error")
    assert_problem(
        await as_pcn.get("/v1/evaluations/posts/1/kpi-attainment", params={"as_of": "0"}), 422, "validation-error"
    )
