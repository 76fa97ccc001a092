"""A budget process SIGKILLed in the middle of a burst of claim submissions (PostgreSQL).

Real processes on real sockets: the roles service (its seeded catalogue) and the budget service on a
migrated PostgreSQL database, called as the gateway would call them (signed principals). Drafts are
made, then submitted at once from concurrent clients, each with its own ``Idempotency-Key``. A few of
the submissions are held in flight for certain (the test holds their claim rows locked, so they
wait inside the service after taking their keys); the budget process is killed with SIGKILL as soon
as ``KILL_AFTER`` submissions have been acknowledged. Then, on the same database:

- every acknowledged submission is ``submitted`` with its one hold posting;
- nothing is half-written: a submitted claim has exactly one hold posting, its ``submit`` event and
  its key recorded ``done``; a draft has no posting, no ``submit`` event and no ``done`` key;
- the ledger verifies, and ``held`` is the sum of the submitted claims;

and after a restart, retrying every submission with its own key completes each exactly once: the
acknowledged and the committed-but-unacknowledged ones replay their stored answer, the others are
done once (on PostgreSQL a key is taken in its work's transaction, so the dead process left none
behind to wait for); every claim ends ``submitted`` with exactly one hold, and the ledger verifies
again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.processes import ServiceProcess as Service
from arrs_kit.processes import poll
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, DatabaseFactory, GatewaySigner, require_postgres, signed_headers
from budget.repository import ledger as ledger_repo

from .factories import post_body

pytestmark = pytest.mark.postgres

FY = "2024-25"
PCN_CODE = "U00001"
ICB = Principal(kind="icb", client_id="fault-icb", org_codes=("QHM",))
PCN = Principal(kind="pcn", client_id="fault-pcn", org_codes=(PCN_CODE,))
AMOUNT = 100_000
POSTS, MONTHS = 6, 6  # 36 drafts
HELD_IN_FLIGHT = 6  # submissions the test keeps waiting inside the service until the kill
UNREAD = 2  # submissions the service completes whose answers the client never reads
KILL_AFTER = 10  # acknowledged submissions before SIGKILL
LEASE_S = 5  # BUDGET_IDEMPOTENCY_LEASE_S: how long a key committed before its work would block a retry
DEADLINE_S = 90.0


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARRS_", "BUDGET_", "ROLES_"))}
    return {**env, "ARRS_GATEWAY_SECRET": DEV_GATEWAY_SECRET, "ARRS_LOG_LEVEL": "WARNING", **values}


@pytest.fixture
def databases(database_factory: DatabaseFactory) -> Iterator[tuple[str, str]]:
    require_postgres()
    roles_url = database_factory.create("roles", "sqlite", lambda url: migrate.upgrade("roles", url))
    budget_url = database_factory.create("budget", "postgresql", lambda url: migrate.upgrade("budget", url))
    yield roles_url, budget_url
    database_factory.drop(budget_url)


def setup_drafts(base: str) -> list[int]:
    """The register, a top-up for every claim and more, the posts and their drafts (April 2024 on)."""

    def send(who: Principal, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{base}{path}", json=body, auth=GatewaySigner(who), timeout=30)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    send(ADMIN, "/v1/icbs", {"code": "QHM", "name": "North East"})
    pcn = {"code": PCN_CODE, "name": "Riverside PCN", "icb_code": "QHM", "practice_codes": ["A81001"]}
    send(ADMIN, "/v1/pcns", {**pcn, "list_size": 50_000, "effective_date": "2024-04-01"})
    top_up = {"pot": "arrs", "amount_pence": 100 * AMOUNT, "reason": "fault test"}
    send(ICB, f"/v1/pcns/{PCN_CODE}/budgets/{FY}/allocations", top_up)
    ids = []
    for n in range(POSTS):
        post = send(
            PCN,
            "/v1/posts",
            post_body(display_name=f"Pharmacist {n}"),
        )
        for month in range(4, 4 + MONTHS):
            amounts = {"salary_pence": AMOUNT, "employer_ni_pence": 0, "employer_pension_pence": 0}
            claim = send(PCN, "/v1/claims", {"post_id": post["id"], "month": f"2024-{month:02d}", **amounts})
            assert claim["amount_pence"] == AMOUNT
            ids.append(int(claim["id"]))
    return ids


def key_of(claim_id: int) -> str:
    return f"submit-{claim_id}"


def send_unread(port: int, claim_id: int) -> socket.socket:
    """Submit with the claim's key on a raw connection whose answer is never read (a client that
    lost its connection after the service committed)."""
    path = f"/v1/claims/{claim_id}/submit"
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Idempotency-Key: {key_of(claim_id)}"]
    head += [f"{name}: {value}" for name, value in signed_headers(PCN, method="POST", path=path).items()]
    conn = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    conn.sendall(("\r\n".join([*head, "Content-Length: 0", "", ""])).encode())
    return conn


def status_of(engine: Engine, claim_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT status FROM claim WHERE id = :id"), {"id": claim_id}).scalar_one())


def others_connected(engine: Engine) -> int:
    """Backends on the budget database other than this query's own."""
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalar_one()
    return int(count)


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return int(count)


def snapshot(engine: Engine) -> dict[int, dict[str, Any]]:
    """Per claim: its status, its hold postings (amount, key), its events and its key's state."""
    with Session(engine) as session:
        assert ledger_repo.verify_ledger(session) == []
        claims = session.execute(text("SELECT id, status, amount_pence FROM claim ORDER BY id")).all()
        holds = session.execute(
            text("SELECT reference, amount_pence, idempotency_key FROM posting WHERE kind = 'claim_hold'")
        ).all()
        others = session.execute(
            text("SELECT count(*) FROM posting WHERE kind NOT IN ('claim_hold', 'top_up')")
        ).scalar_one()
        events = session.execute(text("SELECT claim_id, action FROM claim_event ORDER BY id")).all()
        keys = session.execute(text("SELECT key, state, response_status FROM idempotency_key")).all()
    assert others == 0
    state: dict[int, dict[str, Any]] = {
        int(i): {"status": s, "amount": a, "holds": [], "events": [], "key": None} for i, s, a in claims
    }
    for reference, amount, key in holds:
        state[int(str(reference).removeprefix("claim:"))]["holds"].append((amount, key))
    for claim_id, action in events:
        state[int(claim_id)]["events"].append(action)
    for key, key_state, status in keys:
        claim_id = int(str(key).removeprefix("submit-"))
        state[claim_id]["key"] = (key_state, status)
    return state


def pot(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        row = ledger_repo.get_balance(session, PCN_CODE, FY, "arrs")
        assert row is not None
        return row.allocated_pence, row.held_pence, row.available_pence


async def burst(base: str, held: list[int], free: list[int], budget: Service, engine: Engine) -> dict[int, Any]:
    """Submit every claim at once; SIGKILL the budget process at the KILL_AFTER-th acknowledgement.
    Answers each claim's outcome: the response, or the transport error."""
    outcomes: dict[int, Any] = {}
    acknowledged = 0
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, auth=GatewaySigner(PCN), timeout=DEADLINE_S, limits=limits) as client:

        async def submit(claim_id: int) -> None:
            nonlocal acknowledged
            try:
                response = await client.post(
                    f"/v1/claims/{claim_id}/submit", headers={"Idempotency-Key": key_of(claim_id)}
                )
            except httpx.TransportError as exc:
                outcomes[claim_id] = exc
                return
            outcomes[claim_id] = response
            if response.status_code == 200:
                acknowledged += 1
                if acknowledged == KILL_AFTER:
                    budget.kill()

        waiting = [asyncio.create_task(submit(claim_id)) for claim_id in held]
        # Those are in flight for certain: their keys taken, each waiting on its locked claim row.
        await asyncio.to_thread(poll, lambda: lock_waiters(engine) == len(held), "the held submissions queued")
        racing = [asyncio.create_task(submit(claim_id)) for claim_id in free]
        await asyncio.gather(*waiting, *racing)
    return outcomes


def test_a_budget_process_killed_mid_burst_loses_and_doubles_nothing(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    roles_url, budget_url = databases
    engine = create_engine(budget_url, poolclass=NullPool)
    roles = Service("roles.main:app", environment(ROLES_DATABASE_URL=roles_url), tmp_path / "roles.log")
    budget_env = environment(
        BUDGET_DATABASE_URL=budget_url,
        BUDGET_ROLES_URL=roles.url,
        BUDGET_DATABASE_POOL_SIZE="45",
        BUDGET_DATABASE_MAX_OVERFLOW="0",
        BUDGET_IDEMPOTENCY_LEASE_S=str(LEASE_S),
    )
    services = [roles]
    try:
        budget = Service("budget.main:app", budget_env, tmp_path / "budget.log")
        services.append(budget)
        ids = setup_drafts(budget.url)
        unread, free, held = ids[:UNREAD], ids[UNREAD:-HELD_IN_FLIGHT], ids[-HELD_IN_FLIGHT:]

        lock = engine.connect()
        unanswered = [send_unread(budget.port, claim_id) for claim_id in unread]
        try:
            poll(lambda: all(status_of(engine, i) == "submitted" for i in unread), "the unread submissions held")
            lock.execute(text("SELECT id FROM claim WHERE id = ANY(:ids) FOR UPDATE"), {"ids": held})
            outcomes = asyncio.run(burst(budget.url, held, free, budget, engine))
            assert budget.process.wait(timeout=DEADLINE_S) == -signal.SIGKILL
        finally:
            lock.rollback()
            lock.close()
            for conn in unanswered:
                conn.close()
        # The dead process's backends end once PostgreSQL sees their sockets closed; then what is
        # committed is final.
        poll(lambda: others_connected(engine) == 0, "the killed process's connections gone")

        acked = {i for i, o in outcomes.items() if isinstance(o, httpx.Response)}
        for claim_id in acked:
            response = outcomes[claim_id]
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "submitted"
        assert len(acked) >= KILL_AFTER
        lost = set(ids) - acked
        assert set(held) <= lost  # the held ones never answered
        assert all(isinstance(outcomes[i], httpx.TransportError) for i in lost - set(unread))

        state = snapshot(engine)
        assert sorted(state) == sorted(ids)
        for claim_id, claim in state.items():
            if claim["status"] == "submitted":
                assert claim["holds"] == [(AMOUNT, key_of(claim_id))], claim
                assert claim["events"] == ["create", "submit"], claim
                assert claim["key"] == ("done", 200), claim
            else:
                assert claim["status"] == "draft", claim
                assert (claim["holds"], claim["events"]) == ([], ["create"]), claim
                assert claim["key"] is None, claim  # taken in the work's transaction: gone with it
        submitted = {i for i, claim in state.items() if claim["status"] == "submitted"}
        assert acked | set(unread) <= submitted
        assert not submitted & set(held)
        assert pot(engine) == (100 * AMOUNT, len(submitted) * AMOUNT, (100 - len(submitted)) * AMOUNT)

        # Restarted on the same database, every submission is retried with its own key.
        budget.stop()
        budget = Service("budget.main:app", budget_env, tmp_path / "budget.log")
        services.append(budget)
        answers = {claim_id: retry(budget.url, claim_id) for claim_id in ids}
        for claim_id, (response, replayed) in answers.items():
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["id"], body["status"]) == (claim_id, "submitted")
            # A replay is the stored answer; nothing happened to the claim since, so it reads the same.
            current = httpx.get(f"{budget.url}/v1/claims/{claim_id}", auth=GatewaySigner(PCN), timeout=30)
            assert body == current.json()
            assert replayed == (claim_id in submitted), (claim_id, replayed)
            if claim_id in acked:
                assert body == outcomes[claim_id].json()
        final = snapshot(engine)
        for claim_id, claim in final.items():
            assert claim["status"] == "submitted"
            assert claim["holds"] == [(AMOUNT, key_of(claim_id))], claim
            assert claim["events"] == ["create", "submit"], claim
            assert claim["key"] == ("done", 200), claim
        assert pot(engine) == (100 * AMOUNT, len(ids) * AMOUNT, (100 - len(ids)) * AMOUNT)
    finally:
        for service in services:
            service.stop()
        engine.dispose()


def retry(base: str, claim_id: int) -> tuple[httpx.Response, bool]:
    """Submit again with the claim's key, as a client would: while the key is still held by the dead
    request (409 ``idempotency-key-in-progress``), wait ``Retry-After`` and retry, up to a deadline.
    Answers the final response and whether it was a replay."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        response = httpx.post(
            f"{base}/v1/claims/{claim_id}/submit",
            headers={"Idempotency-Key": key_of(claim_id)},
            auth=GatewaySigner(PCN),
            timeout=30,
        )
        if response.status_code != 409 or time.monotonic() > deadline:
            return response, response.headers.get("idempotent-replayed") == "true"
        assert response.json()["type"] == "/problems/idempotency-key-in-progress", response.text
        time.sleep(float(response.headers["retry-after"]))  # the client honours Retry-After
