"""A database that cannot be reached, or is too busy to answer, is a 503 with ``Retry-After``.

Which database errors are the database's state rather than a bug:

- **unavailable** (``database-unavailable``): the connection failed or was lost (SQLAlchemy marked it
  invalid; SQLSTATE class 08, 57P01–57P03 the server shutting down or starting), the server is out of
  resources (class 53), or no pooled connection came free in time (the pool's ``TimeoutError``);
- **conflict** (``database-conflict``): the transaction lost a serialization or deadlock race, or
  timed out waiting for a lock (40001, 40P01, 55P03; SQLite's "database is locked"). Retrying it is
  safe and usually succeeds at once.

Anything else (a missing table, a bad statement) is a bug and stays a 500, logged with its traceback.

The request's transaction is rolled back, unless the connection was lost during its commit, when
the database alone knows: a client retries a write with the same ``Idempotency-Key``, which applies
it at most once. The pool mends itself: SQLAlchemy replaces a connection that failed, and every
connection older than a detected disconnect; an idle one is pinged before use (:mod:`arrs_kit.db`).
When the database is back, the next requests succeed with no restart.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from arrs_kit.problems import problem_response

log = logging.getLogger("arrs.db")

RETRY_AFTER_S = 2
DATABASE_ERRORS = (DBAPIError, PoolTimeout)
"""What a database call may raise that :func:`database_state` sorts."""
CONFLICT_STATES = frozenset({"40001", "40P01", "55P03"})
DOWN_STATES = frozenset({"57P01", "57P02", "57P03"})
DOWN_CLASSES = frozenset({"08", "53"})


def database_state(exc: BaseException) -> str | None:
    """``unavailable``, ``conflict``, or None when the error is not the database's state (a bug)."""
    if isinstance(exc, PoolTimeout):
        return "unavailable"
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "unavailable"
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in CONFLICT_STATES:
            return "conflict"
        if sqlstate in DOWN_STATES or sqlstate[:2] in DOWN_CLASSES:
            return "unavailable"
        return None
    message = str(exc.orig).lower()
    if "database is locked" in message or "database is busy" in message:  # SQLite's busy timeout ran out
        return "conflict"
    if "unable to open database" in message:
        return "unavailable"
    if isinstance(exc, InterfaceError) or (isinstance(exc, OperationalError) and "connect" in message):
        return "unavailable"  # a driver that names no SQLSTATE: the connection itself failed
    return None


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    state = database_state(exc)
    if state is None:
        raise exc  # a bug: the platform's 500 handler logs it with its traceback
    log.warning(
        "database %s on %s %s: %s",
        state,
        request.method,
        request.url.path,
        type(getattr(exc, "orig", exc)).__name__,
    )
    if state == "conflict":
        return problem_response(
            status=503,
            code="database-conflict",
            title="The database refused a conflicting transaction",
            detail="Another request changed the same rows at the same moment; nothing of this one was written. "
            "Retry it.",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )
    return problem_response(
        status=503,
        code="database-unavailable",
        title="The service's database is unavailable",
        detail="The database could not be reached or was too busy to answer. Retry shortly: a write retried "
        "with the same Idempotency-Key is applied at most once.",
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_database_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(InterfaceError, database_unavailable)
    app.add_exception_handler(PoolTimeout, database_unavailable)
