"""Idempotency keys: a retried POST never does its work twice.

The first request with a key takes it, does its work, and records its response **in the same
transaction as the work**, so either both happen or neither. A retry with the same key and the same
body replays the recorded response (``Idempotent-Replayed: true``); the same key with another body
is 422 ``/problems/idempotency-key-reused``; the same key while the first is still running is 409
``/problems/idempotency-key-in-progress``. A request that fails (any error) releases the key, so the
client may retry it.

How a key is taken depends on the database (:func:`request_lease` chooses):

- PostgreSQL (:meth:`IdempotencyStore.take`): in the request's own transaction, before its work. A
  transaction-scoped advisory lock on the key (``pg_try_advisory_xact_lock``) is tried: held by a
  running request, 409. Then the key's row is read; with none, the response is inserted as the key's
  row with the work, at its commit. One transaction and one commit per request; a failure or a crash
  rolls the lock back with the work, so nothing is left to release or to expire.
- SQLite (:meth:`IdempotencyStore.claim`): a row in state ``in_progress``, committed on its own
  before the work. Its writers take the database's one write lock at ``BEGIN``, so a duplicate could
  not see a running request in the same transaction (it would wait for the first's commit and replay
  it, instead of the 409); the committed row is what it sees. A row left by a crashed process expires
  after ``lease``, and is then taken over.

Keys are scoped to the client and the operation, so two clients cannot collide. Each service adds
the table to its own metadata with :func:`idempotency_table`; the kit itself owns no tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from arrs_kit.db import Database, UtcDateTime
from arrs_kit.problems import ProblemError

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retry safe: the same key and body replays the first response.",
    ),
]


class IdempotencyKeyReused(ProblemError):
    status, code, title = 422, "idempotency-key-reused", "This Idempotency-Key was used with another request"


class IdempotencyKeyInProgress(ProblemError):
    status, code, title = 409, "idempotency-key-in-progress", "A request with this Idempotency-Key is still running"


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_key",
        metadata,
        Column("scope", String(200), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("response_status", Integer, nullable=True),
        Column("response_body", Text, nullable=True),
        Column("location", String(500), nullable=True),
        Column("created_at", UtcDateTime, nullable=False),
        Column("lease_until", UtcDateTime, nullable=False),
    )


def fingerprint(method: str, path: str, body: Any) -> str:
    """A stable hash of what was asked: same method, path and JSON body give the same value."""
    canonical = json.dumps({"m": method, "p": path, "b": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    body: Any
    location: str | None

    def response(self) -> JSONResponse:
        headers = {"Idempotent-Replayed": "true"}
        if self.location:
            headers["Location"] = self.location
        return JSONResponse(self.body, status_code=self.status, headers=headers)


@dataclass(frozen=True, slots=True)
class KeyLease:
    """The right to do the work once; pass it to the service, which records the response."""

    store: IdempotencyStore
    scope: str
    key: str
    stored: bool = True
    """Whether the key's row exists (committed before the work, or taken over from a dead request):
    the response updates it. Otherwise the response is inserted as the key's row, with the work."""
    request_hash: str = ""

    def record(self, session: Session, *, status: int, body: Any, location: str | None = None) -> None:
        """Record the response inside the transaction that does the work (before its commit)."""
        self.store.record(session, self, status=status, body=body, location=location)


def lock_id(table: str, scope: str, key: str) -> int:
    """The advisory lock of a key: 64 bits of a hash of its table, scope and key, as PostgreSQL's
    ``bigint`` (two keys sharing one would only make one wait for the other: 409, then retried)."""
    digest = hashlib.sha256(f"{table}\x00{scope}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class IdempotencyStore:
    def __init__(self, table: Table, *, lease: timedelta = timedelta(seconds=60)) -> None:
        self.table = table
        self.lease = lease
        t = table
        # Built once: a request with a key runs them, and each execution skips building them.
        self._try_lock = select(func.pg_try_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)))
        self._read = select(t).where(t.c.scope == bindparam("scope"), t.c.key == bindparam("key"))
        self._insert_done = (
            postgresql.insert(t)
            .values(
                scope=bindparam("scope"),
                key=bindparam("key"),
                request_hash=bindparam("request_hash"),
                state="done",
                response_status=bindparam("response_status"),
                response_body=bindparam("response_body"),
                location=bindparam("location"),
                created_at=bindparam("created_at"),
                lease_until=bindparam("lease_until"),
            )
            .on_conflict_do_nothing()
            .returning(t.c.key)  # no row: the key was there (a rowcount is not reported for this insert)
        )

    def _row(self, session: Session, scope: str, key: str) -> Any:
        return session.execute(self._read, {"scope": scope, "key": key}).one_or_none()

    def take(self, session: Session, *, scope: str, key: str, request_hash: str) -> KeyLease | Replay:
        """Take ``key`` in ``session``'s transaction, the one that then does the work (PostgreSQL, at
        READ COMMITTED), or answer the recorded response of an earlier request. Call it before the
        work's first statement, so a duplicate is told 409 at once instead of queueing on the work's
        locks. A replay or a refusal ends the transaction (rolled back) before it is answered."""
        try:
            if not session.execute(self._try_lock, {"lock_id": lock_id(self.table.name, scope, key)}).scalar_one():
                raise IdempotencyKeyInProgress(
                    "The first request with this key has not finished; retry shortly.", headers={"Retry-After": "1"}
                )
            # A statement of its own, after the lock: its snapshot sees the commit of whoever held the
            # lock before (read in the lock's statement, the snapshot could predate that commit).
            row = self._row(session, scope, key)
            if row is None:
                return KeyLease(self, scope, key, stored=False, request_hash=request_hash)
            outcome = self._existing(session, row, scope=scope, key=key, request_hash=request_hash, commit=False)
        except ProblemError:
            session.rollback()
            raise
        if isinstance(outcome, Replay):
            session.rollback()  # the lock, given back now rather than when the session is closed
        return outcome

    def claim(self, db: Database, *, scope: str, key: str, request_hash: str) -> KeyLease | Replay:
        """Claim ``key`` for this request in a transaction of its own (committed before the work), or
        answer the recorded response of an earlier one."""
        t = self.table
        now = datetime.now(UTC)
        with db.writer() as session:
            try:
                session.execute(
                    insert(t).values(
                        scope=scope,
                        key=key,
                        request_hash=request_hash,
                        state="in_progress",
                        created_at=now,
                        lease_until=now + self.lease,
                    )
                )
                session.commit()
                return KeyLease(self, scope, key, request_hash=request_hash)
            except IntegrityError:
                session.rollback()
            row = self._row(session, scope, key)
            if row is None:  # released between our insert and our read: try once more
                return self.claim(db, scope=scope, key=key, request_hash=request_hash)
            return self._existing(session, row, scope=scope, key=key, request_hash=request_hash, commit=True)

    def _existing(
        self, session: Session, row: Any, *, scope: str, key: str, request_hash: str, commit: bool
    ) -> KeyLease | Replay:
        """The key's row exists: replay it, refuse (another body: 422; still running: 409), or take over
        the key of a request whose process died mid-flight (its work rolled back with it) once its
        lease has expired. ``commit``: the take-over in a transaction of its own (else the caller's)."""
        t = self.table
        if row.request_hash != request_hash:
            raise IdempotencyKeyReused("Use a new Idempotency-Key for a different request.")
        if row.state == "done":
            return Replay(row.response_status, json.loads(row.response_body), row.location)
        now = datetime.now(UTC)
        if row.lease_until > now:
            raise IdempotencyKeyInProgress(
                "The first request with this key has not finished; retry shortly.", headers={"Retry-After": "1"}
            )
        taken = session.execute(
            update(t)
            .where(t.c.scope == scope, t.c.key == key, t.c.state == "in_progress", t.c.lease_until == row.lease_until)
            .values(lease_until=now + self.lease)
        )
        if commit:
            session.commit()
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise IdempotencyKeyInProgress(
                "Another retry took this key over; retry shortly.", headers={"Retry-After": "1"}
            )
        return KeyLease(self, scope, key, request_hash=request_hash)

    def record(self, session: Session, claim: KeyLease, *, status: int, body: Any, location: str | None) -> None:
        t = self.table
        response_body = json.dumps(body, default=str)
        if claim.stored:
            session.execute(
                update(t)
                .where(t.c.scope == claim.scope, t.c.key == claim.key)
                .values(state="done", response_status=status, response_body=response_body, location=location)
            )
            return
        values = {
            "scope": claim.scope,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "response_status": status,
            "response_body": response_body,
            "location": location,
        }
        values["created_at"] = now = datetime.now(UTC)
        values["lease_until"] = now + self.lease
        if session.execute(self._insert_done, values).first() is None:
            # Only a request that committed the key on its own first (a process of an earlier
            # version, mid-deploy) can have written it meanwhile: this one's work is rolled back.
            raise IdempotencyKeyInProgress(
                "Another request took this key meanwhile; retry shortly.", headers={"Retry-After": "1"}
            )

    def release(self, db: Database, claim: KeyLease) -> None:
        """Give the key back after a failure, so the client can retry the request."""
        t = self.table
        with db.writer() as session:
            session.execute(delete(t).where(t.c.scope == claim.scope, t.c.key == claim.key, t.c.state == "in_progress"))
            session.commit()


class Replayed(Exception):
    """Raised by :func:`request_lease` for a retry: answer ``replay`` (register :func:`replayed_response`)."""

    def __init__(self, replay: Replay) -> None:
        super().__init__("replayed")
        self.replay = replay


async def replayed_response(_request: Any, exc: Exception) -> JSONResponse:
    """The exception handler for :class:`Replayed`: the first request's response, replayed."""
    assert isinstance(exc, Replayed)
    return exc.replay.response()


@dataclass(slots=True)
class KeyRequest:
    """An ``Idempotency-Key`` a request came with, not taken yet (:func:`asked_key`): :meth:`take`
    takes it (or raises :class:`Replayed`, 409, 422) in the worker thread that then does the request's
    work, before the work's first statement, so taking it costs no thread hop of its own; after a
    failure, :meth:`give_back` releases it in that thread too."""

    store: IdempotencyStore
    db: Database
    session: Session
    scope: str
    key: str
    request_hash: str
    lease: KeyLease | None = None

    def take(self) -> KeyLease:
        """The lease (taken once): in ``session``'s transaction on PostgreSQL, in one of its own on SQLite."""
        if self.lease is None:
            if self.db.is_sqlite:
                outcome = self.store.claim(self.db, scope=self.scope, key=self.key, request_hash=self.request_hash)
            else:
                outcome = self.store.take(self.session, scope=self.scope, key=self.key, request_hash=self.request_hash)
            if isinstance(outcome, Replay):
                raise Replayed(outcome)
            self.lease = outcome
        return self.lease

    def give_back(self) -> None:
        """After the request failed: if its key was taken, roll ``session`` back and release the key,
        so the client may retry at once (blocking: in a worker thread)."""
        if self.lease is not None:
            _give_back(self.store, self.db, self.session, self.lease)


def asked_key(
    request: Request, session: Session, *, principal_id: str, key: str | None, operation: str, payload: Any
) -> KeyRequest | None:
    """The key a request came with (None without one), with the app's store and database
    (``app.state.idempotency`` and ``app.state.db``), not taken yet: no I/O. ``session`` is the
    request's write session, the one its work is done and committed in, with nothing done in it before
    :meth:`KeyRequest.take`. On PostgreSQL the key is taken in that transaction
    (:meth:`IdempotencyStore.take`), so the service commits once, after recording its response (an
    earlier commit would end the key's lock). A failure of the request once the key is taken must
    :meth:`KeyRequest.give_back` it before the error is answered."""
    if key is None:
        return None
    store: IdempotencyStore = request.app.state.idempotency
    db: Database = request.app.state.db
    request_hash = fingerprint(request.method, request.url.path, payload)
    return KeyRequest(store, db, session, f"{principal_id}:{operation}", key, request_hash)


@asynccontextmanager
async def request_lease(
    request: Request, session: Session, *, principal_id: str, key: str | None, operation: str, payload: Any
) -> AsyncIterator[KeyLease | None]:
    """Idempotency for a request, for a coroutine dependency (scope ``function``) that hands the route
    a lease: ``async with request_lease(...) as lease: yield …``. None without a key (and no worker
    thread); :class:`Replayed` for a retry of a finished request; otherwise a lease the service
    records its response on (:func:`asked_key` says how it is taken, in a worker thread of its own
    here). A failure of the request releases the key (in a worker thread) before the error is
    answered, so the client may retry."""
    asked = asked_key(request, session, principal_id=principal_id, key=key, operation=operation, payload=payload)
    if asked is None:
        yield None
        return
    lease = await run_in_threadpool(asked.take)
    try:
        yield lease
    except BaseException:
        await run_in_threadpool(asked.give_back)
        raise


def _give_back(store: IdempotencyStore, db: Database, session: Session, taken: KeyLease) -> None:
    # End the failed transaction first: on SQLite it holds the write lock the release needs; on
    # PostgreSQL it holds the key's lock, and with it the key's row if it was to be inserted.
    session.rollback()
    if taken.stored:
        store.release(db, taken)
