"""The evaluation service's budget client re-reads an answer after its TTL conditionally: an unchanged
answer comes back 304 and is kept, with what was parsed from it; a changed one is read and parsed
afresh. Against a real budget service (the test's own), with the client's clock in the test's hands."""

from __future__ import annotations

from collections import Counter

import httpx
from fastapi.testclient import TestClient

from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, GatewaySigner, ManualClock
from evaluation.clients.budget import BudgetClient


def test_an_unchanged_answer_is_confirmed_by_304_and_kept_with_what_was_parsed(own_budget: TestClient) -> None:
    statuses: Counter[int] = Counter()

    def count(response: httpx.Response) -> None:
        if response.request.url.path == "/v1/posts":
            statuses[response.status_code] += 1

    own_budget.event_hooks["response"].append(count)
    clock = ManualClock()
    client = BudgetClient(own_budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=30, clock=clock)

    posts = client.posts(ADMIN, icb_code="QHM")
    assert [p.id for p in posts] == [1, 2, 3] and statuses == {200: 1}
    assert client.posts(ADMIN, icb_code="QHM") is posts and statuses == {200: 1}, "within the TTL: kept"

    clock.now += 31
    assert client.posts(ADMIN, icb_code="QHM") is posts, "after it, unchanged: the same objects"
    assert statuses == {200: 1, 304: 1}
    assert client.posts(ADMIN, icb_code="QHM") is posts and statuses == {200: 1, 304: 1}, "kept another TTL"

    etag = own_budget.get("/v1/posts/1", auth=GatewaySigner(ADMIN)).headers["ETag"]
    ended = own_budget.patch(
        "/v1/posts/1", json={"leave_date": "2025-01-31"}, headers={"If-Match": etag}, auth=GatewaySigner(ADMIN)
    )
    assert ended.status_code == 200, ended.text
    assert client.posts(ADMIN, icb_code="QHM") is posts, "a change within the TTL is not seen yet"
    clock.now += 31
    changed = client.posts(ADMIN, icb_code="QHM")
    assert changed is not posts and str(changed[0].leave_date) == "2025-01-31"
    assert statuses == {200: 2, 304: 1}
