"""Database engines and sessions.

Sync SQLAlchemy sessions run in FastAPI's thread pool: at this platform's traffic that is simpler
than async and fast enough. Services own their transactions and commit explicitly; the session
dependency only opens and closes.

SQLite is the embedded default. Its write transactions begin ``IMMEDIATE`` (the write lock is taken
at ``BEGIN``), so check-then-write logic cannot lose a race to another writer; reads stay deferred
and never block writers (WAL mode).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
from fastapi import Depends, Request
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Dialect,
    Engine,
    TypeDecorator,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from arrs_kit.settings import normalise_database_url


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the offset (``timestamptz``); SQLite keeps none and would hand back naive
    values, which JSON would then render without an offset (not RFC 3339).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")


CONNECT_TIMEOUT_S = 3
"""Seconds a new PostgreSQL connection may take (libpq's ``connect_timeout``): then the request is a 503."""

PING_AFTER_IDLE_S = 5.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out."""


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection on checkout only when it has been idle in the pool for ``idle_s``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip to the database, and its CPU on
    both sides, on every request. A connection that was in use moments ago is as good as its last
    statement proved it; one that sat idle may have been dropped (a restarted server, an idle timeout
    on the way). A failed ping raises ``DisconnectionError``, on which the pool replaces the connection.
    What the ping no longer covers (a server restarted within ``idle_s`` of a connection's last use) is
    found by that connection's next statement: SQLAlchemy recognises the disconnect, that request
    fails (a write rolls back) and every connection older than the failure is replaced."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"an idle pooled connection failed its ping: {exc}") from exc


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 20, ping_after_idle_s: float = PING_AFTER_IDLE_S
) -> Engine:
    """Create an engine for a SQLAlchemy URL; nothing connects until first use."""
    url = normalise_database_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _prepare_sqlite(engine)
        return engine
    # A server that stops answering (not refusing) fails a new connection after CONNECT_TIMEOUT_S, not never.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


class Database:
    """An engine plus two session factories: ``reader`` and ``writer``.

    On PostgreSQL both behave the same (row locks are taken explicitly with ``FOR UPDATE``); on
    SQLite the writer begins ``IMMEDIATE``.
    """

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20) -> None:
        self.url = normalise_database_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size, max_overflow=max_overflow)
        self.is_sqlite = is_sqlite(self.url)
        write_engine = self.engine.execution_options(sqlite_begin="immediate") if self.is_sqlite else self.engine
        self.reader = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.writer = sessionmaker(write_engine, expire_on_commit=False, autoflush=False)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# Coroutines, though the sessions block: making a session connects to nothing (its first statement
# does, in the route's worker thread). A session is not a generator dependency: FastAPI's exit stack
# for one (a context manager, shielded, per request) cost 48 µs more per request than a coroutine that
# returns the session (in-process, 20,000 requests). The request's sessions are closed instead by
# :class:`arrs_kit.middleware.RequestContextMiddleware` once the app has answered, as FastAPI closed
# them: only closing a session whose transaction is still open (a rollback, the connection back to the
# pool) is I/O, done in a worker thread; a session that committed has already given its connection
# back and is closed on the event loop.

SESSIONS = "arrs.sessions"
"""The key, in the request's ASGI ``state``, of the sessions its dependencies opened."""


def _opened(request: Request, session: Session) -> Session:
    request.scope["state"].setdefault(SESSIONS, []).append(session)
    return session


async def close_sessions(state: dict[str, Any]) -> None:
    """Close the sessions a request opened, the last first; no cancellation interrupts it."""
    sessions: list[Session] | None = state.pop(SESSIONS, None)
    if not sessions:
        return
    with anyio.CancelScope(shield=True):
        for session in reversed(sessions):
            if session.in_transaction():
                await run_in_threadpool(session.close)
            else:
                session.close()


async def get_read_session(request: Request) -> Session:
    return _opened(request, _database(request).reader())


async def get_write_session(request: Request) -> Session:
    return _opened(request, _database(request).writer())


ReadSessionDep = Annotated[Session, Depends(get_read_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]


def one_of(session: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``. On PostgreSQL it is one array parameter (``column = ANY(:values)``): a
    statement over a thousand values is rendered, converted and sent as cheaply as one over ten (an
    expanded ``IN`` renders a parameter per value, every time, since its text differs with the count)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(None, list(values), type_=ARRAY(column.type))))
    return cast(ColumnElement[bool], column.in_(list(values)))
