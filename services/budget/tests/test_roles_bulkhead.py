"""A stalled roles service does not stall the budget service (security probe, issue 9): real processes.

The probe stopped the roles process (SIGSTOP) with the budget's role cache expired and fired 60
claim previews: they filled the budget's worker threads, and a budget-only ``GET /v1/pcns/{code}``
took 9 s. Here, on real sockets, a roles process (its seeded catalogue) and a budget process on
PostgreSQL with no role cache (``BUDGET_ROLES_CACHE_TTL_S=0``, so every preview asks the roles
service), called as the gateway would call them (signed principals):

1. The roles process is stopped and 60 previews are fired at once. All but
   ``BUDGET_ROLES_MAX_IN_FLIGHT`` of them are answered 503 ``roles-unavailable`` (reason
   ``too-many-in-flight``, with ``Retry-After``) while those few still wait on the stopped process;
   a budget-only read of the PCN is answered 200 while they still wait; after SIGCONT they are
   answered 200. Nothing here is decided by a duration: the stalled calls' read timeout is far
   beyond anything the test waits for, and the assertions are about which answers exist when.
2. A budget process whose calls time out quickly: the roles process is stopped, the breaker's
   worth of previews fail (503, read timeout), and the breaker opens: the next preview is refused
   at once (reason ``circuit-open``, ``Retry-After``) without calling the roles service, and the PCN
   is still read. After SIGCONT and the ``Retry-After`` the server gave, previews work again.

The roles process is always continued and every process stopped, whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.processes import ServiceProcess as Service
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, DatabaseFactory, GatewaySigner, require_postgres

from .factories import post_body

pytestmark = pytest.mark.postgres

PCN_CODE = "U00001"
PCN = Principal(kind="pcn", client_id="bulkhead-pcn", org_codes=(PCN_CODE,), name="Riverside PCN manager")
PREVIEWS = 60
MAX_IN_FLIGHT = 4
BREAKER_FAILURES = 3
DEADLINE_S = 120.0  # a bound on waiting for another process, never a measure
PREVIEW = {"month": "2024-10", "salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARRS_", "BUDGET_", "ROLES_"))}
    return {**env, "ARRS_GATEWAY_SECRET": DEV_GATEWAY_SECRET, "ARRS_LOG_LEVEL": "WARNING", **values}


@pytest.fixture
def roles_and_budget_db(database_factory: DatabaseFactory, tmp_path: Path) -> Iterator[tuple[Service, str]]:
    """A running roles process (seeded catalogue, SQLite) and a migrated PostgreSQL budget database."""
    require_postgres()
    roles_url = database_factory.create("roles", "sqlite", lambda url: migrate.upgrade("roles", url))
    budget_url = database_factory.create("budget", "postgresql", lambda url: migrate.upgrade("budget", url))
    roles = Service("roles.main:app", environment(ROLES_DATABASE_URL=roles_url), tmp_path / "roles.log")
    try:
        yield roles, budget_url
    finally:
        roles.stop()
        database_factory.drop(budget_url)


def start_budget(roles: Service, budget_url: str, log: Path, *, read_timeout_s: float) -> Service:
    return Service(
        "budget.main:app",
        environment(
            BUDGET_DATABASE_URL=budget_url,
            BUDGET_ROLES_URL=roles.url,
            BUDGET_ROLES_CACHE_TTL_S="0",  # the cache always expired: every preview asks the roles service
            BUDGET_ROLES_TIMEOUT_S=str(read_timeout_s),
            BUDGET_ROLES_CONNECT_TIMEOUT_S="5",
            BUDGET_ROLES_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
            BUDGET_ROLES_BREAKER_FAILURES=str(BREAKER_FAILURES),
            BUDGET_ROLES_BREAKER_COOL_DOWN_S="1",
        ),
        log,
    )


def set_up(base: str) -> int:
    """The register, a funded pot and a post (its role checked against the running roles service)."""

    def send(who: Principal, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{base}{path}", json=body, auth=GatewaySigner(who), timeout=30)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    send(ADMIN, "/v1/icbs", {"code": "QHM", "name": "North East"})
    pcn = {"code": PCN_CODE, "name": "Riverside PCN", "icb_code": "QHM", "practice_codes": ["A81001"]}
    send(ADMIN, "/v1/pcns", {**pcn, "list_size": 50_000, "effective_date": "2024-04-01"})
    funds = {"pot": "arrs", "amount_pence": 10_000_000, "reason": "bulkhead test"}
    send(ADMIN, f"/v1/pcns/{PCN_CODE}/budgets/2024-25/allocations", funds)
    post = send(
        PCN,
        "/v1/posts",
        post_body(display_name="Pharmacist"),
    )
    return int(post["id"])


def client_of(base: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=PREVIEWS + 10, max_keepalive_connections=PREVIEWS + 10)
    return httpx.AsyncClient(base_url=base, auth=GatewaySigner(PCN), timeout=DEADLINE_S, limits=limits)


def refused(response: httpx.Response, reason: str) -> int:
    """Assert an immediate refusal for ``reason``; answer its ``Retry-After`` in seconds."""
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["type"], body.get("reason")) == ("/problems/roles-unavailable", reason), body
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


async def test_a_stopped_roles_service_stalls_only_the_calls_that_need_it(
    roles_and_budget_db: tuple[Service, str], tmp_path: Path
) -> None:
    roles, budget_url = roles_and_budget_db
    # Phase 1: the stalled calls' read timeout is far longer than anything here takes.
    budget = start_budget(roles, budget_url, tmp_path / "budget-1.log", read_timeout_s=60)
    try:
        post_id = set_up(budget.url)
        body = {**PREVIEW, "post_id": post_id}
        async with client_of(budget.url) as client:
            assert (await client.post("/v1/claims/preview", json=body)).status_code == 200
            roles.signal(signal.SIGSTOP)
            try:
                calls = [asyncio.ensure_future(client.post("/v1/claims/preview", json=body)) for _ in range(PREVIEWS)]
                pending = set(calls)
                while len(pending) > MAX_IN_FLIGHT:
                    done, pending = await asyncio.wait(pending, timeout=DEADLINE_S, return_when=asyncio.FIRST_COMPLETED)
                    assert done, f"{len(pending)} previews still unanswered after {DEADLINE_S} s"
                answered = [c.result() for c in calls if c.done()]
                assert len(answered) == PREVIEWS - MAX_IN_FLIGHT
                for response in answered:
                    refused(response, "too-many-in-flight")

                # A budget-only read is answered while the previews that reached the roles service wait.
                read = await client.get(f"/v1/pcns/{PCN_CODE}")
                assert read.status_code == 200, read.text
                assert read.json()["code"] == PCN_CODE
                assert not any(call.done() for call in pending), "a stalled preview was answered before SIGCONT"
            finally:
                roles.signal(signal.SIGCONT)
            for response in await asyncio.gather(*pending):
                assert response.status_code == 200, response.text
    finally:
        budget.stop()

    # Phase 2: calls that time out quickly open the breaker.
    budget = start_budget(roles, budget_url, tmp_path / "budget-2.log", read_timeout_s=1)
    try:
        async with client_of(budget.url) as client:
            assert (await client.post("/v1/claims/preview", json=body)).status_code == 200
            roles.signal(signal.SIGSTOP)
            try:
                failures = await asyncio.gather(
                    *(client.post("/v1/claims/preview", json=body) for _ in range(BREAKER_FAILURES))
                )
                for response in failures:
                    assert response.status_code == 503, response.text
                    assert response.json()["type"] == "/problems/roles-unavailable"
                    assert "ReadTimeout" in response.json()["detail"]
                wait_s = refused(await client.post("/v1/claims/preview", json=body), "circuit-open")
                refused(await client.post("/v1/claims/preview", json=body), "circuit-open")
                assert (await client.get(f"/v1/pcns/{PCN_CODE}")).status_code == 200
            finally:
                roles.signal(signal.SIGCONT)
            # The server said when to come back: after that, one trial call closes the breaker.
            await asyncio.sleep(wait_s)
            trial = await client.post("/v1/claims/preview", json=body)
            assert trial.status_code == 200, trial.text
            again = await asyncio.gather(*(client.post("/v1/claims/preview", json=body) for _ in range(MAX_IN_FLIGHT)))
            assert [r.status_code for r in again] == [200] * MAX_IN_FLIGHT
    finally:
        budget.stop()
