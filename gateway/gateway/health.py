"""The gateway's readiness and its metrics port.

Also how the gateway answers when its own database is down for a credential lookup.

Ready means the gateway can serve: its own database answers and at least one upstream service is
ready. Each check has ``readiness_timeout_s`` (below the probe's own timeout), so one service that
hangs is reported ``not ready (timeout)`` rather than making the whole answer late, and with it every
gateway replica unready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from wsgiref.simple_server import WSGIServer

import anyio.to_thread
import httpx
from fastapi.responses import JSONResponse
from prometheus_client import start_http_server
from starlette.types import Send

from arrs_kit.db import Database
from arrs_kit.problems import problem_response
from arrs_kit.unavailable import database_state
from gateway.config import GatewaySettings
from gateway.proxy import send_problem

log = logging.getLogger("arrs.gateway")

OWN = "gateway_database"


async def _within(check: Awaitable[str], timeout_s: float) -> str:
    try:
        return await asyncio.wait_for(check, timeout_s)
    except TimeoutError:
        return "not ready (timeout)"


async def _upstream(client: httpx.AsyncClient) -> str:
    try:
        response = await client.get("/readyz")
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ready" if response.status_code == 200 else f"not ready ({response.status_code})"


async def _database(db: Database) -> str:
    try:
        await anyio.to_thread.run_sync(db.ping, abandon_on_cancel=True)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable ({type(exc).__name__})"
    return "ready"


async def readiness(clients: Mapping[str, httpx.AsyncClient], db: Database, timeout_s: float) -> dict[str, str]:
    """Each upstream's state and the gateway database's, checked at once, each within ``timeout_s``."""
    names = list(clients)
    results = await asyncio.gather(
        *(_within(_upstream(clients[name]), timeout_s) for name in names), _within(_database(db), timeout_s)
    )
    return dict(zip([*names, OWN], results, strict=True))


def readiness_answer(states: Mapping[str, str]) -> JSONResponse:
    """200 ``ready`` (every upstream is) or ``degraded`` (some are not, and their routes answer 503);
    503 when the gateway's database does not answer or no upstream is ready."""
    services = {name: state for name, state in states.items() if name != OWN}
    if states[OWN] == "ready" and any(state == "ready" for state in services.values()):
        status = "ready" if all(state == "ready" for state in services.values()) else "degraded"
        return JSONResponse({"status": status, "upstreams": dict(states)})
    down = ", ".join(f"{name}: {state}" for name, state in states.items() if state != "ready")
    return problem_response(
        status=503, code="not-ready", detail=f"Not ready: {down}", extra={"upstreams": dict(states)}
    )


async def lookup_unavailable(exc: Exception, send: Send, path: str) -> None:
    """A credential lookup that met the gateway's database down (or too busy): 503, never a bare 500.
    Any other database error is a bug, raised again."""
    if database_state(exc) is None:
        raise exc
    log.warning("gateway database unavailable", extra={"error": type(exc).__name__})
    await send_problem(
        send,
        503,
        "gateway-database-unavailable",
        "The gateway could not look up the client's credentials; retry shortly.",
        path,
        [(b"retry-after", b"2")],
    )


def serve_metrics(settings: GatewaySettings) -> WSGIServer | None:
    """The metrics port, when configured: a thread of its own, so a scrape never waits on the proxy."""
    if settings.metrics_port is None:
        return None
    server, _thread = start_http_server(settings.metrics_port, addr=settings.metrics_host or settings.host)
    return server
