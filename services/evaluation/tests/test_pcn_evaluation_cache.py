"""A PCN's evaluation summary (the evaluation half of its scorecard) is kept between reads and never
answered stale: a write of its evaluation data, a workload upload and a change the budget service
answers are each in the next read, checked against a replica that keeps nothing, on SQLite and
PostgreSQL. The budget service here is the test's own (it is written to)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrs_kit.testing import ADMIN, GatewaySigner, asgi_client
from evaluation.analyses.cache import StateCache

from .conftest import replica

SUMMARY = ("/v1/evaluations/pcns/U00001/summary", {"fy": "2024-25", "as_of": "2025-02-15"})
CELLS = [{"area": "estates", "lens": "operations", "status": "in_place", "owner": "PCN manager"}]
WORKLOAD = {
    "practice_code": "A81001",
    "grain": "week",
    "period_start": "2025-01-06",
    "hcp_role": "clinical_pharmacist",
    "national_category": "structured_medication_review",
    "mode": "face_to_face",
    "status": "attended",
    "appointments": 40,
    "minutes": 800,
}


@pytest.fixture
async def replicas(
    evaluation_url: str, upstreams: tuple[TestClient, TestClient], own_budget: TestClient, who: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]]:
    """A caching replica and its reader, a second caching replica written through by the PCN and by a
    practice system, and a replica that keeps nothing (the truth), all on one database."""
    roles = upstreams[0]
    cached, other, fresh = (replica(evaluation_url, roles, own_budget, entries=n) for n in (512, 512, 0))
    async with (
        asgi_client(cached, principal=ADMIN) as reader,
        asgi_client(other, principal=who.PCN) as pcn,
        asgi_client(other, principal=who.PRACTICE) as practice,
        asgi_client(fresh, principal=ADMIN) as truth,
    ):
        yield cached, reader, pcn, practice, truth


async def summary(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(SUMMARY[0], params=SUMMARY[1])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_change_is_in_the_next_read_and_nothing_else_is_computed_again(
    replicas: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient],
    own_budget: TestClient,
) -> None:
    budget = own_budget
    cached, reader, pcn, practice, truth = replicas
    cache: StateCache[Any] = cached.state.pcn_evaluations

    def move_post() -> httpx.Response:
        etag = budget.get("/v1/posts/1", auth=GatewaySigner(ADMIN)).headers["ETag"]
        moved: httpx.Response = budget.patch(
            "/v1/posts/1", json={"leave_date": "2025-01-31"}, headers={"If-Match": etag}, auth=GatewaySigner(ADMIN)
        )
        return moved

    async def upload() -> httpx.Response:
        return await practice.post("/v1/workload", json=[WORKLOAD])

    async def ready() -> httpx.Response:
        return await pcn.put("/v1/readiness/U00001", json={"cells": CELLS})

    before = await summary(truth)
    assert await summary(reader) == before
    for name, change in (("readiness", ready), ("workload upload", upload), ("a post's leave date", None)):
        hits = cache.hits
        assert await summary(reader) == before and cache.hits == hits + 1, f"before {name}: the summary is kept"
        response = move_post() if change is None else await change()
        assert response.status_code in (200, 201), (name, response.text)
        after = await summary(truth)
        assert after != before, f"{name} changes the summary"
        misses = cache.misses
        assert await summary(reader) == after, f"{name} is in the next read"
        assert cache.misses == misses + (0 if change is None else 1)  # a budget change: a kept entry, refused
        before = after
