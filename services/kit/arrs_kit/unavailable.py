"""A database that cannot be reached, or is too busy to answer, is a 503 with ``Retry-After``, never a 500.

The request's transaction is rolled back, unless the connection was lost during its commit, when
the database alone knows: a client retries a write with the same ``Idempotency-Key``, which applies
it at most once. The pool mends itself: SQLAlchemy marks a connection
that failed as invalid and replaces it, and every connection older than a detected disconnect; an idle
one is pinged before use (:mod:`arrs_kit.db`). When the database is back, the next requests succeed
with no restart.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from arrs_kit.problems import problem_response

log = logging.getLogger("arrs.db")

RETRY_AFTER_S = 2


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    log.warning(
        "database %s on %s %s: %s",
        "connection lost" if lost else "unavailable",
        request.method,
        request.url.path,
        type(getattr(exc, "orig", exc)).__name__,
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
