"""Racing claim submissions on PostgreSQL under real concurrent connections (domain §6, Concurrency).

(a) 52 distinct drafts submitted at once against one pot that holds exactly 20 of them, each from its
    own thread on its own database connection, released together by a barrier: exactly 20 are held,
    the other 32 are 409 ``budget-exceeded`` and stay drafts, ``available`` never goes below zero at
    any posting, and the ledger verifies. The connections are shown to be concurrent: 52 distinct
    backend PIDs, all open at the barrier, and (window held open) all 52 queued on the pot's lock.
(b) One claim submitted by many clients at once under ONE ``Idempotency-Key``: one hold posting;
    every answer is the submitted claim (the first, or a replay with an identical body) or 409
    ``idempotency-key-in-progress``; retried, those 409s replay the same body.
(c) One claim submitted by many clients at once without a key: exactly one succeeds, the others are
    409 ``invalid-claim-transition``; one hold posting.

Each race runs as it comes and with its window held open (a gate in the service's path, opened
once the test sees the racers queued in PostgreSQL or answered: no sleeps decide anything).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import Database
from arrs_kit.principal import Principal
from arrs_kit.problems import ProblemError
from arrs_kit.testing import ADMIN, asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.domain import ledger
from budget.main import create_app
from budget.models import BudgetBalance, Claim, Posting
from budget.repository import ledger as ledger_repo
from budget.service import authz
from budget.service.claims import lifecycle

from .factories import post_body

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("budget_db_url", ["postgresql"], indirect=True),
    pytest.mark.usefixtures("ledger_verified"),
]

FY = "2024-25"
PCN_CODE = "U00001"
ICB = Principal(kind="icb", client_id="race-icb", org_codes=("QHM",))
PCN = Principal(kind="pcn", client_id="race-pcn", org_codes=(PCN_CODE,))
AMOUNT = 100_000  # each claim: salary only, well under the cap, funding share 1
FITS = 20
RACERS = 52  # (a): distinct drafts, threads and connections
CLIENTS = 32  # (b), (c): concurrent requests (the app's worker threads are 40)
DEADLINE_S = 60.0


@pytest.fixture(params=["as-it-comes", "window-held-open"])
def race_window(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(budget_db_url: str, roles_catalogue: RoleCatalogue) -> FastAPI:
    """The budget app with a pool large enough for every racer to hold its own connection."""
    settings = BudgetSettings(database_url=budget_db_url, database_pool_size=CLIENTS + 8, database_max_overflow=0)
    return create_app(settings, configure_logs=False, catalogue=roles_catalogue)


@pytest.fixture
async def clients(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with (
        asgi_client(app, principal=ADMIN) as admin,
        asgi_client(app, principal=ICB) as icb,
        asgi_client(app, principal=PCN) as pcn,
    ):
        yield {"admin": admin, "icb": icb, "pcn": pcn}


@pytest.fixture
def engine(budget_db_url: str) -> Iterator[Engine]:
    engine = create_engine(budget_db_url)
    yield engine
    engine.dispose()


async def prepare(c: dict[str, httpx.AsyncClient], *, posts: int, months: int, top_up: int) -> list[int]:
    """ICB QHM, PCN U00001, ``posts`` clinical pharmacists, a top-up of the arrs pot and one draft per
    post and month (April 2024 onwards) of exactly ``AMOUNT``; answers the drafts' ids."""
    assert (await c["admin"].post("/v1/icbs", json={"code": "QHM", "name": "North East"})).status_code == 201
    pcn = {
        "code": PCN_CODE,
        "name": "Riverside PCN",
        "icb_code": "QHM",
        "practice_codes": ["A81001"],
        "list_size": 50_000,
        "effective_date": "2024-04-01",
    }
    assert (await c["admin"].post("/v1/pcns", json=pcn)).status_code == 201
    allocation = {"pot": "arrs", "amount_pence": top_up, "reason": "race"}
    assert (await c["icb"].post(f"/v1/pcns/{PCN_CODE}/budgets/{FY}/allocations", json=allocation)).status_code == 201
    ids = []
    for n in range(posts):
        post = post_body(display_name=f"Pharmacist {n}")
        response = await c["pcn"].post("/v1/posts", json=post)
        assert response.status_code == 201, response.text
        for m in range(months):
            month = f"{2024 + (3 + m) // 12}-{(3 + m) % 12 + 1:02d}"
            body = {
                "post_id": response.json()["id"],
                "month": month,
                "salary_pence": AMOUNT,
                "employer_ni_pence": 0,
                "employer_pension_pence": 0,
            }
            made = await c["pcn"].post("/v1/claims", json=body)
            assert made.status_code == 201, made.text
            assert made.json()["amount_pence"] == AMOUNT
            ids.append(int(made.json()["id"]))
    return ids


def pot(engine: Engine) -> BudgetBalance:
    with Session(engine) as session:
        row = ledger_repo.get_balance(session, PCN_CODE, FY, "arrs")
        assert row is not None
        return row


def holds(engine: Engine) -> list[tuple[str | None, int, str | None]]:
    """The hold postings: (reference, amount, idempotency key), oldest first."""
    with Session(engine) as session:
        rows = session.execute(
            select(col(Posting.reference), col(Posting.amount_pence), col(Posting.idempotency_key))
            .where(col(Posting.kind) == "claim_hold")
            .order_by(col(Posting.id))
        ).all()
    return [(r, a, k) for r, a, k in rows]


def statuses(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        rows = session.execute(select(col(Claim.id), col(Claim.status))).all()
    return {i: s for i, s in rows if i is not None}


def assert_available_never_negative(engine: Engine) -> None:
    """Replay the pot's postings in the order they were made (under the pot's lock, so id order is
    commit order): every prefix leaves valid balances, so ``available`` never went below zero."""
    with Session(engine) as session:
        rows = session.execute(
            select(col(Posting.debit_account), col(Posting.credit_account), col(Posting.amount_pence))
            .where(col(Posting.pcn_code) == PCN_CODE, col(Posting.fy) == FY, col(Posting.pot) == "arrs")
            .order_by(col(Posting.id))
        ).all()
        assert ledger_repo.verify_ledger(session) == []
    balances = ledger.Balances()
    for debit, credit, amount in rows:
        balances = ledger.apply(balances, debit_account=debit, credit_account=credit, amount_pence=amount)
        assert balances.is_valid(), balances


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll the database for a state the racers must reach (bounded by a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {DEADLINE_S} s")
        time.sleep(0.01)


def lock_waiters(engine: Engine, pids: set[int] | None = None) -> int:
    """How many backends of this database wait on a heavyweight lock (a row lock) right now."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
        ).all()
    return len([r for r in rows if pids is None or r[0] in pids])


# (a) 52 distinct drafts against one pot that holds 20


async def test_concurrent_submissions_hold_exactly_what_fits(
    clients: dict[str, httpx.AsyncClient],
    budget_db_url: str,
    roles_catalogue: RoleCatalogue,
    engine: Engine,
    race_window: str,
) -> None:
    ids = await prepare(clients, posts=13, months=4, top_up=FITS * AMOUNT)
    assert len(ids) == RACERS
    db = Database(budget_db_url, pool_size=RACERS + 2, max_overflow=0)
    pids: dict[int, int] = {}
    outcomes: dict[int, tuple[str, int]] = {}
    together: list[int] = []
    held_open = race_window == "window-held-open"

    def all_connected() -> None:
        """Runs once every racer has reached the barrier, before any is released."""
        with engine.connect() as conn:
            live = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": list(pids.values())}
            ).scalar_one()
        together.append(int(live))

    barrier = threading.Barrier(RACERS, action=all_connected)

    def racer(claim_id: int) -> None:
        with db.writer() as session:
            pids[claim_id] = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            barrier.wait(timeout=DEADLINE_S)
            try:
                claim = authz.pcn_claim(session, PCN, claim_id)
                public = lifecycle.submit(session=session, catalogue=roles_catalogue, principal=PCN, claim=claim)
                outcomes[claim_id] = (public.status, public.amount_pence)
            except ProblemError as exc:
                outcomes[claim_id] = (exc.code, exc.status)

    # Window held open: the test holds the pot's balance row, so every racer queues on it.
    gate = engine.connect() if held_open else None
    try:
        if gate is not None:
            gate.execute(text("SELECT 1 FROM budget_balance WHERE pcn_code = :p FOR UPDATE"), {"p": PCN_CODE})
        threads = [threading.Thread(target=racer, args=(claim_id,)) for claim_id in ids]
        for thread in threads:
            thread.start()
        if gate is not None:
            wait_for(lambda: lock_waiters(engine, set(pids.values())) == RACERS, f"{RACERS} submissions queued")
            gate.commit()
        for thread in threads:
            thread.join(timeout=DEADLINE_S)
            assert not thread.is_alive()
    finally:
        if gate is not None:
            gate.close()
        db.dispose()

    # The connections were real and concurrent: distinct backends, all alive at the barrier at once.
    assert len(set(pids.values())) == RACERS
    assert together == [RACERS]
    won = sorted(i for i, outcome in outcomes.items() if outcome == ("submitted", AMOUNT))
    lost = sorted(i for i, outcome in outcomes.items() if outcome == ("budget-exceeded", 409))
    assert (len(won), len(lost)) == (FITS, RACERS - FITS), outcomes
    assert sorted(won + lost) == sorted(ids)
    stored = statuses(engine)
    assert {i for i in ids if stored[i] == "submitted"} == set(won)
    assert {i for i in ids if stored[i] == "draft"} == set(lost)
    assert sorted(str(ref) for ref, _, _ in holds(engine)) == sorted(f"claim:{i}" for i in won)
    assert {amount for _, amount, _ in holds(engine)} == {AMOUNT}
    balance = pot(engine)
    assert (balance.allocated_pence, balance.held_pence, balance.available_pence) == (FITS * AMOUNT, FITS * AMOUNT, 0)
    assert_available_never_negative(engine)
    # Through the API, the pot reads the same.
    budget = (await clients["admin"].get(f"/v1/pcns/{PCN_CODE}/budgets/{FY}")).json()
    assert budget["pots"][0] | {"pot": "arrs"} == {
        "pot": "arrs",
        "allocated_pence": FITS * AMOUNT,
        "held_pence": FITS * AMOUNT,
        "approved_pence": 0,
        "paid_pence": 0,
        "lapsed_pence": 0,
        "available_pence": 0,
    }


# (b) and (c): one claim, many clients


def gate_lock_balance(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold the first submission that reaches the pot's lock until the test opens the gate."""
    gate = threading.Event()
    original = ledger_repo.lock_balance

    def gated(*args: Any, **kwargs: Any) -> Any:
        if not gate.wait(timeout=DEADLINE_S):
            raise RuntimeError("the test never opened the gate")
        return original(*args, **kwargs)

    monkeypatch.setattr(ledger_repo, "lock_balance", gated)
    return gate


async def test_one_idempotency_key_submits_once_whoever_races(
    clients: dict[str, httpx.AsyncClient], engine: Engine, race_window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (claim_id,) = await prepare(clients, posts=1, months=1, top_up=FITS * AMOUNT)
    gate = gate_lock_balance(monkeypatch) if race_window == "window-held-open" else None
    pcn = clients["pcn"]
    path, key = f"/v1/claims/{claim_id}/submit", {"Idempotency-Key": "one-key"}
    tasks = [asyncio.create_task(pcn.post(path, headers=key)) for _ in range(CLIENTS)]
    if gate is not None:
        # The first holds its key inside the gate; every other one must be told it is in progress.
        pending: set[asyncio.Task[httpx.Response]] = set(tasks)
        while len(pending) > 1:
            done, pending = await asyncio.wait(pending, timeout=DEADLINE_S, return_when=asyncio.FIRST_COMPLETED)
            assert done, f"{len(pending)} requests still unanswered after {DEADLINE_S} s"
            assert pending, "the request holding the key answered before the gate opened"
        gate.set()
    responses = await asyncio.gather(*tasks)

    first = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    replayed = [r for r in responses if r.status_code == 200 and r.headers.get("idempotent-replayed") == "true"]
    busy = [r for r in responses if r.status_code == 409]
    assert len(first) == 1, [(r.status_code, r.headers, r.text) for r in responses]
    assert len(first) + len(replayed) + len(busy) == CLIENTS
    for response in busy:
        assert_problem(response, 409, "idempotency-key-in-progress")
        assert response.headers["retry-after"] == "1"
    if gate is not None:
        assert (len(replayed), len(busy)) == (0, CLIENTS - 1)
    body = first[0].json()
    assert body["status"] == "submitted" and body["amount_pence"] == AMOUNT
    assert all(r.json() == body for r in replayed)
    # Retried once the first has finished, every in-progress answer becomes the same claim.
    for _ in busy:
        again = await pcn.post(path, headers=key)
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == body
    assert holds(engine) == [(f"claim:{claim_id}", AMOUNT, "one-key")]
    assert statuses(engine) == {claim_id: "submitted"}
    balance = pot(engine)
    assert (balance.held_pence, balance.available_pence) == (AMOUNT, (FITS - 1) * AMOUNT)
    with Session(engine) as session:
        keys = session.execute(text("SELECT state, count(*) FROM idempotency_key GROUP BY state")).all()
    assert [tuple(k) for k in keys] == [("done", 1)]


async def test_one_claim_submitted_by_many_without_a_key_moves_once(
    clients: dict[str, httpx.AsyncClient], engine: Engine, race_window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (claim_id,) = await prepare(clients, posts=1, months=1, top_up=FITS * AMOUNT)
    gate = gate_lock_balance(monkeypatch) if race_window == "window-held-open" else None
    pcn = clients["pcn"]
    tasks = [asyncio.create_task(pcn.post(f"/v1/claims/{claim_id}/submit")) for _ in range(CLIENTS)]
    if gate is not None:
        # The first holds the claim's row inside the gate: every other one must queue on that row.
        await asyncio.to_thread(wait_for, lambda: lock_waiters(engine) == CLIENTS - 1, "every other submission queued")
        gate.set()
    responses = await asyncio.gather(*tasks)
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in responses]
    assert ok[0].json()["status"] == "submitted"
    for response in responses:
        if response.status_code != 200:
            problem = assert_problem(response, 409, "invalid-claim-transition")
            assert (problem["claim_id"], problem["claim_status"]) == (claim_id, "submitted")
    assert holds(engine) == [(f"claim:{claim_id}", AMOUNT, None)]
    with Session(engine) as session:
        events = session.execute(text("SELECT action FROM claim_event WHERE claim_id = :c"), {"c": claim_id}).all()
        assert session.execute(select(func.count()).select_from(Posting)).scalar_one() == 2  # top-up and hold
    assert sorted(e[0] for e in events) == ["create", "submit"]
    balance = pot(engine)
    assert (balance.held_pence, balance.available_pence) == (AMOUNT, (FITS - 1) * AMOUNT)
