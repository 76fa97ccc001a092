"""KPIs and measurements through the API, on SQLite and PostgreSQL: targets from a period on, retirement,
batches that replace and keep history, idempotent retries, and bad input that writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arrs_kit.testing import assert_problem

from .factories import KPI, PLAN


async def new_kpi(client: httpx.AsyncClient, post_id: int = 1, **changes: Any) -> dict[str, Any]:
    if (await client.get(f"/v1/job-plans/{post_id}")).status_code == 404:
        assert (await client.put(f"/v1/job-plans/{post_id}", json=PLAN)).status_code == 201
    response = await client.post(f"/v1/job-plans/{post_id}/kpis", json={**KPI, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/kpis/{body['id']}"
    return body


async def test_a_kpi_needs_a_job_plan_first(as_pcn: httpx.AsyncClient) -> None:
    assert_problem(await as_pcn.post("/v1/job-plans/1/kpis", json=KPI), 404, "job-plan-not-found")


async def test_a_kpi_is_created_read_and_listed(as_pcn: httpx.AsyncClient) -> None:
    kpi = await new_kpi(as_pcn)
    assert (kpi["target"], kpi["baseline"], kpi["status"], kpi["version"]) == ("40", "12.5", "active", 1)
    assert kpi["created_by"] == "Riverside PCN manager" and len(kpi["targets"]) == 1
    weekly = await new_kpi(
        as_pcn, name="Minutes to triage", unit="minutes", direction="lower_is_better", frequency="weekly", target=15
    )
    listed = (await as_pcn.get("/v1/job-plans/1/kpis")).json()["data"]
    assert [k["id"] for k in listed] == [kpi["id"], weekly["id"]]
    read = await as_pcn.get(f"/v1/kpis/{kpi['id']}")
    assert read.json()["name"] == KPI["name"] and read.headers["etag"] == f'"kpi-{kpi["id"]}-v1"'


@pytest.mark.parametrize(
    "bad",
    [
        {"direction": "up"},
        {"frequency": "daily"},
        {"unit": "furlongs"},
        {"target": "forty"},
        {"target": True},
        {"target": 1e20},
        {"target": "1.23456"},
        {"name": ""},
        {"extra": 1},
    ],
)
async def test_bad_kpis_are_422(as_pcn: httpx.AsyncClient, bad: dict[str, Any]) -> None:
    assert (await as_pcn.put("/v1/job-plans/1", json=PLAN)).status_code == 201
    assert_problem(await as_pcn.post("/v1/job-plans/1/kpis", json={**KPI, **bad}), 422, "validation-error")
    assert (await as_pcn.get("/v1/job-plans/1/kpis")).json()["data"] == []


async def test_a_new_target_applies_from_its_period_on(as_pcn: httpx.AsyncClient) -> None:
    kpi = await new_kpi(as_pcn)
    url, tag = f"/v1/kpis/{kpi['id']}", f'"kpi-{kpi["id"]}-v1"'
    assert_problem(await as_pcn.patch(url, json={"target": 30}), 428, "precondition-required")
    assert_problem(
        await as_pcn.patch(url, json={"target": 30, "target_effective_from": "2024-09-15"}, headers={"If-Match": tag}),
        422,
        "invalid-target-period",
    )
    assert_problem(
        await as_pcn.patch(url, json={"frequency": "weekly"}, headers={"If-Match": tag}), 422, "validation-error"
    )
    # Lower the target from September 2024: earlier months keep 40.
    changed = await as_pcn.patch(
        url, json={"target": 30, "target_effective_from": "2024-09-01"}, headers={"If-Match": tag}
    )
    assert changed.status_code == 200, changed.text
    assert [(t["effective_from"], t["target"]) for t in changed.json()["targets"]] == [
        ("2000-01-01", "40"),
        ("2024-09-01", "30"),
    ]
    assert changed.json()["target"] == "30"  # in force now
    values = [{"period_start": "2024-08-01", "value": 35}, {"period_start": "2024-09-01", "value": 35}]
    assert (await as_pcn.post(f"{url}/measurements", json=values)).status_code == 200
    periods = (await as_pcn.get("/v1/evaluations/posts/1/kpi-attainment", params={"as_of": "2024-10-15"})).json()
    statuses = {p["period_start"]: (p["target"], p["status"]) for p in periods["kpis"][0]["periods"]}
    assert statuses["2024-08-01"] == ("40", "off_track") and statuses["2024-09-01"] == ("30", "on_track")


async def test_measurements_replace_and_keep_their_history(as_pcn: httpx.AsyncClient) -> None:
    kpi = await new_kpi(as_pcn)
    url = f"/v1/kpis/{kpi['id']}/measurements"
    first = [{"period_start": "2024-06-01", "value": 38}, {"period_start": "2024-07-01", "value": "41.5"}]
    assert (await as_pcn.post(url, json=first)).json() == {"received": 2, "inserted": 2, "replaced": 0}
    again = [{"period_start": "2024-07-01", "value": 44}, {"period_start": "2024-08-01", "value": 40}]
    assert (await as_pcn.post(url, json=again)).json() == {"received": 2, "inserted": 1, "replaced": 1}
    current = (await as_pcn.get(url)).json()["data"]
    assert [(m["period_start"], m["value"]) for m in current] == [
        ("2024-06-01", "38"),
        ("2024-07-01", "44"),
        ("2024-08-01", "40"),
    ]
    history = (await as_pcn.get(f"{url}/history")).json()["data"]
    assert [(h["period_start"], h["value"], h["replaced"]) for h in history] == [
        ("2024-06-01", "38", None),
        ("2024-07-01", "41.5", None),
        ("2024-07-01", "44", "41.5"),
        ("2024-08-01", "40", None),
    ]
    page = (await as_pcn.get(url, params={"limit": 2})).json()
    rest = (await as_pcn.get(url, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [m["period_start"] for m in page["data"] + rest["data"]] == ["2024-06-01", "2024-07-01", "2024-08-01"]
    assert_problem(await as_pcn.get(url, params={"cursor": "WyJ4Il0"}), 422, "invalid-cursor")  # ["x"]


async def test_a_bad_batch_lists_every_problem_and_records_nothing(as_pcn: httpx.AsyncClient) -> None:
    weekly = await new_kpi(as_pcn, frequency="weekly")
    url = f"/v1/kpis/{weekly['id']}/measurements"
    batch = [
        {"period_start": "2024-10-07", "value": 1},  # a Monday: fine
        {"period_start": "2024-10-08", "value": 1},  # a Tuesday
        {"period_start": "2099-01-05", "value": 1},  # a Monday that has not come
        {"period_start": "2024-10-07", "value": 2},  # the same week twice
    ]
    body = assert_problem(await as_pcn.post(url, json=batch), 422, "invalid-measurements")
    assert [e["loc"] for e in body["errors"]] == [["body", i, "period_start"] for i in (1, 2, 3)]
    for bad in ([], [{"period_start": "2024-10-07"}], [{"period_start": "2024-10-07", "value": "x"}], {"a": 1}):
        assert_problem(await as_pcn.post(url, json=bad), 422, "validation-error")
    assert (await as_pcn.get(url)).json()["data"] == []
    assert (await as_pcn.get(f"{url}/history")).json()["data"] == []


async def test_a_retried_batch_is_recorded_once(as_pcn: httpx.AsyncClient) -> None:
    kpi = await new_kpi(as_pcn)
    url = f"/v1/kpis/{kpi['id']}/measurements"
    batch = [{"period_start": "2024-06-01", "value": 38}]
    first = await as_pcn.post(url, json=batch, headers={"Idempotency-Key": "m-1"})
    replay = await as_pcn.post(url, json=batch, headers={"Idempotency-Key": "m-1"})
    assert first.json() == replay.json() == {"received": 1, "inserted": 1, "replaced": 0}
    assert replay.headers["idempotent-replayed"] == "true"
    assert len((await as_pcn.get(f"{url}/history")).json()["data"]) == 1
    other = [{"period_start": "2024-06-01", "value": 39}]
    assert_problem(
        await as_pcn.post(url, json=other, headers={"Idempotency-Key": "m-1"}), 422, "idempotency-key-reused"
    )


async def test_a_retired_kpi_takes_no_more(as_pcn: httpx.AsyncClient) -> None:
    kpi = await new_kpi(as_pcn)
    url = f"/v1/kpis/{kpi['id']}"
    retired = await as_pcn.post(f"{url}/retire", json={"reason": "Replaced by a weekly measure"})
    assert retired.status_code == 200
    assert (retired.json()["status"], retired.json()["retired_reason"]) == ("retired", "Replaced by a weekly measure")
    assert_problem(await as_pcn.post(f"{url}/retire"), 409, "kpi-retired")
    batch = [{"period_start": "2024-06-01", "value": 1}]
    assert_problem(await as_pcn.post(f"{url}/measurements", json=batch), 409, "kpi-retired")
    assert_problem(
        await as_pcn.patch(url, json={"name": "x"}, headers={"If-Match": retired.headers["etag"]}), 409, "kpi-retired"
    )
    active = (await as_pcn.get("/v1/job-plans/1/kpis", params={"status": "active"})).json()["data"]
    assert active == []


async def test_who_may_see_and_change_kpis(as_pcn: httpx.AsyncClient, client_as: Any, who: Any) -> None:
    kpi = await new_kpi(as_pcn)
    url = f"/v1/kpis/{kpi['id']}"
    batch = [{"period_start": "2024-06-01", "value": 1}]
    unknown = assert_problem(await as_pcn.get("/v1/kpis/99999"), 404, "kpi-not-found")
    async with client_as(who.ICB) as icb:
        assert (await icb.get(url)).status_code == 200
        assert (await icb.get(f"{url}/measurements")).status_code == 200
        assert_problem(await icb.post(f"{url}/measurements", json=batch), 403, "forbidden")
        assert_problem(await icb.post(f"{url}/retire"), 403, "forbidden")
        assert_problem(await icb.post("/v1/job-plans/1/kpis", json=KPI), 403, "forbidden")
    async with client_as(who.OTHER_ICB) as outsider:
        for response in (
            await outsider.get(url),
            await outsider.post(f"{url}/measurements", json=batch),
            await outsider.patch(url, json={"name": "x"}, headers={"If-Match": "*"}),
            await outsider.post(f"{url}/retire"),
        ):
            body = assert_problem(response, 404, "kpi-not-found")
            assert body["detail"] == unknown["detail"].replace("99999", str(kpi["id"]))
    async with client_as(who.PRACTICE) as practice:
        assert_problem(await practice.get(url), 404, "kpi-not-found")
