"""Idempotency keys: a retried POST never does its work twice.

The first request with a key takes a lease on it (a row committed on its own, state ``in_progress``),
does its work, and records its response **in the same transaction as the work**, so either both
happen or neither. A retry with the same key and the same body replays the recorded response
(``Idempotent-Replayed: true``); the same key with another body is 422
``/problems/idempotency-key-reused``; the same key while the first is still running is 409
``/problems/idempotency-key-in-progress``. A request that fails (any error) releases its claim, so
the client may retry it. A claim left by a crashed process expires after ``lease``.

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
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, insert, select, update
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

    def record(self, session: Session, *, status: int, body: Any, location: str | None = None) -> None:
        """Record the response inside the transaction that does the work (before its commit)."""
        self.store.record(session, self, status=status, body=body, location=location)


class IdempotencyStore:
    def __init__(self, table: Table, *, lease: timedelta = timedelta(seconds=60)) -> None:
        self.table = table
        self.lease = lease

    def _row(self, session: Session, scope: str, key: str) -> Any:
        t = self.table
        return session.execute(select(t).where(t.c.scope == scope, t.c.key == key)).one_or_none()

    def claim(self, db: Database, *, scope: str, key: str, request_hash: str) -> KeyLease | Replay:
        """Claim ``key`` for this request, or answer the recorded response of an earlier one."""
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
                return KeyLease(self, scope, key)
            except IntegrityError:
                session.rollback()
            row = self._row(session, scope, key)
            if row is None:  # released between our insert and our read: try once more
                return self.claim(db, scope=scope, key=key, request_hash=request_hash)
            if row.request_hash != request_hash:
                raise IdempotencyKeyReused("Use a new Idempotency-Key for a different request.")
            if row.state == "done":
                return Replay(row.response_status, json.loads(row.response_body), row.location)
            if row.lease_until > now:
                raise IdempotencyKeyInProgress(
                    "The first request with this key has not finished; retry shortly.", headers={"Retry-After": "1"}
                )
            # The first request's process died mid-flight (its work rolled back with it): take over.
            taken = session.execute(
                update(t)
                .where(
                    t.c.scope == scope, t.c.key == key, t.c.state == "in_progress", t.c.lease_until == row.lease_until
                )
                .values(lease_until=now + self.lease)
            )
            session.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise IdempotencyKeyInProgress(
                    "Another retry took this key over; retry shortly.", headers={"Retry-After": "1"}
                )
            return KeyLease(self, scope, key)

    def record(self, session: Session, claim: KeyLease, *, status: int, body: Any, location: str | None) -> None:
        t = self.table
        session.execute(
            update(t)
            .where(t.c.scope == claim.scope, t.c.key == claim.key)
            .values(
                state="done", response_status=status, response_body=json.dumps(body, default=str), location=location
            )
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


@asynccontextmanager
async def request_lease(
    request: Request, session: Session, *, principal_id: str, key: str | None, operation: str, payload: Any
) -> AsyncIterator[KeyLease | None]:
    """Idempotency for a request, with the app's store and database (``app.state.idempotency`` and
    ``app.state.db``), for a coroutine dependency (scope ``function``) that hands the route a lease:
    ``async with request_lease(...) as lease: yield …``. None without a key (and no worker thread);
    :class:`Replayed` for a retry of a finished request; otherwise a lease the service records its
    response on. A failure of the request rolls ``session`` back and releases the lease before the
    error is answered, so the client may retry. Taking and giving back a key are done in a worker
    thread."""
    if key is None:
        yield None
        return
    store: IdempotencyStore = request.app.state.idempotency
    db: Database = request.app.state.db
    scope = f"{principal_id}:{operation}"
    request_hash = fingerprint(request.method, request.url.path, payload)
    outcome = await run_in_threadpool(store.claim, db, scope=scope, key=key, request_hash=request_hash)
    if isinstance(outcome, Replay):
        raise Replayed(outcome)
    try:
        yield outcome
    except BaseException:
        await run_in_threadpool(_give_back, store, db, session, outcome)
        raise


def _give_back(store: IdempotencyStore, db: Database, session: Session, taken: KeyLease) -> None:
    # End the failed transaction first: on SQLite it holds the write lock the release needs.
    session.rollback()
    store.release(db, taken)
