"""The ICB list of PCN evaluations is kept between reads and never answered stale: every write of what it
is computed from (job plans, KPIs, targets, measurements, readiness), made through any replica, is in
the next read of every replica. Checked against a replica that keeps nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrs_kit.testing import ADMIN, GatewaySigner, asgi_client
from evaluation.analyses.cache import StateCache
from evaluation.changes import repository as pcn_changes

from .conftest import replica
from .factories import KPI, PLAN

CELLS = [{"area": "estates", "lens": "operations", "status": "in_place", "owner": "PCN manager"}]
LIST = {"icb_code": "QHM", "as_of": "2025-02-15"}


@pytest.fixture
async def replicas(
    evaluation_url: str, upstreams: tuple[TestClient, TestClient], who: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]]:
    """A caching replica and its reader, a second caching replica to write through, and a replica that
    keeps nothing (the truth), all on one database."""
    cached, other, fresh = (replica(evaluation_url, *upstreams, entries=n) for n in (512, 512, 0))
    async with (
        asgi_client(cached, principal=ADMIN) as reader,
        asgi_client(other, principal=who.PCN) as writer,
        asgi_client(fresh, principal=ADMIN) as truth,
    ):
        yield cached, reader, writer, truth


def changes_of(app: FastAPI) -> int:
    with app.state.db.reader() as session:
        return pcn_changes.counters(session, ["U00001"]).get("U00001", 0)


async def rows(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/evaluations/pcn-summaries", params=LIST)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_every_write_is_in_the_next_read_of_every_replica(
    replicas: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    cached, reader, writer, truth = replicas
    cache: StateCache[Any] = cached.state.icb_evaluations
    kpi: dict[str, Any] = {}

    async def new_kpi() -> httpx.Response:
        response = await writer.post("/v1/job-plans/1/kpis", json=KPI)
        kpi.update(response.json())
        return response

    writes: list[tuple[str, Callable[[], Awaitable[httpx.Response]]]] = [
        ("readiness", lambda: writer.put("/v1/readiness/U00001", json={"cells": CELLS})),
        ("job plan", lambda: writer.put("/v1/job-plans/1", json=PLAN)),
        ("new KPI", new_kpi),
        (
            "measurements",
            lambda: writer.post(
                f"/v1/kpis/{kpi['id']}/measurements",
                json=[{"period_start": f"2024-{m:02d}-01", "value": 10} for m in (10, 11, 12)],
            ),
        ),
        (
            "new target",
            lambda: writer.patch(
                f"/v1/kpis/{kpi['id']}",
                json={"target": 5, "target_effective_from": "2024-10-01"},
                headers={"If-Match": f'"kpi-{kpi["id"]}-v1"'},
            ),
        ),
        ("retired KPI", lambda: writer.post(f"/v1/kpis/{kpi['id']}/retire", json={"reason": "Replaced"})),
    ]
    before, counted = await rows(truth), changes_of(cached)
    assert await rows(reader) == before and counted == 0
    for name, write in writes:
        hits = cache.hits
        assert await rows(reader) == before and cache.hits == hits + 1, f"{name}: an unchanged list is kept"
        response = await write()
        assert response.status_code in (200, 201), (name, response.text)
        assert changes_of(cached) == counted + 1, f"{name} counts one change of its PCN"
        counted += 1
        after = await rows(truth)
        if name != "job plan":  # a plan alone changes no column: its post is still at risk without a KPI
            assert after != before, f"{name} changes the list"
        assert await rows(reader) == after, f"{name} through another replica is in the next read"
        before = after


def test_a_kept_value_is_answered_only_for_its_state_and_the_least_used_go_first() -> None:
    cache: StateCache[str] = StateCache(max_entries=2)
    cache.put("a", (1, [2]), "A")
    assert cache.get("a", (1, [2])) == "A"  # an equal state, not the same object
    assert cache.get("a", (1, [3])) is None and cache.get("b", (1, [2])) is None
    cache.put("b", 1, "B")
    assert cache.get("a", (1, [2])) == "A"  # "a" used last: "b" goes first
    cache.put("c", 1, "C")
    assert (cache.get("b", 1), cache.get("a", (1, [2])), cache.get("c", 1)) == (None, "A", "C")
    assert (cache.hits, cache.misses) == (4, 3)


async def test_a_change_the_budget_service_answers_is_in_the_next_read(
    evaluation_url: str, upstreams: tuple[TestClient, TestClient], own_budget: TestClient
) -> None:
    """The list keeps the digests of the budget answers its PCNs and posts were read from: a post that
    ends is in the next read (the replicas read the budget service afresh, as after the TTL)."""
    cached, fresh = (replica(evaluation_url, upstreams[0], own_budget, entries=n) for n in (512, 0))
    cache: StateCache[Any] = cached.state.icb_evaluations
    async with asgi_client(cached, principal=ADMIN) as reader, asgi_client(fresh, principal=ADMIN) as truth:
        before = await rows(truth)
        assert await rows(reader) == before
        hits = cache.hits
        assert await rows(reader) == before and cache.hits == hits + 1, "an unchanged list is kept"
        etag = own_budget.get("/v1/posts/1", auth=GatewaySigner(ADMIN)).headers["ETag"]
        ended = own_budget.patch(
            "/v1/posts/1", json={"leave_date": "2025-01-31"}, headers={"If-Match": etag}, auth=GatewaySigner(ADMIN)
        )
        assert ended.status_code == 200, ended.text
        after = await rows(truth)
        assert after != before, "a post that ended changes the list"
        misses = cache.misses
        assert await rows(reader) == after and cache.misses == misses + 1, "the kept list is refused"
        hits = cache.hits
        assert await rows(reader) == after and cache.hits == hits + 1, "and the new one kept"
