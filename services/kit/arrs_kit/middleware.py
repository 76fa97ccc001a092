"""Pure ASGI middleware: request ids and the access log in one pass, no per-request objects beyond a closure."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrs_kit.context import accept_or_make_request_id, request_id_var, safe_id
from arrs_kit.db import SESSIONS, close_sessions
from arrs_kit.metrics import observe_request, route_of

access_log = logging.getLogger("arrs.access")
_ECHOED = frozenset({b"x-request-id", b"x-correlation-id"})


def header_value(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Gives every request its id, keeps the caller's correlation id beside it, echoes both, logs it
    and counts it (:mod:`arrs_kit.metrics`: by route template, method and status). The database
    sessions the request's dependencies opened (:mod:`arrs_kit.db`) are closed once it has answered.

    At the public edge (``trust_request_id=False``, the gateway) the platform always makes its own
    request id, so no two requests share one whatever clients send; a client's ``X-Correlation-ID``
    (or, failing that, its ``X-Request-ID``) is kept as the correlation id when it is a safe token.
    Behind the gateway (services), the request id the gateway sent and signed is kept."""

    def __init__(self, app: ASGIApp, *, service: str, log_requests: bool = True, trust_request_id: bool = True) -> None:
        self.app = app
        self.service = service
        self.log_requests = log_requests
        self.trust_request_id = trust_request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id = header_value(scope, b"x-request-id")
        correlation = safe_id(header_value(scope, b"x-correlation-id"))
        if self.trust_request_id:
            rid = accept_or_make_request_id(sent_id)
        else:
            rid = accept_or_make_request_id(None)
            correlation = correlation or safe_id(sent_id)
        token = request_id_var.set(rid)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["correlation_id"] = correlation
        status_holder: list[int] = [500]
        echoed = [(b"x-request-id", rid.encode("latin-1"))]
        if correlation:
            echoed.append((b"x-correlation-id", correlation.encode("latin-1")))
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _ECHOED]
                headers.extend(echoed)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if SESSIONS in state:
                await close_sessions(state)
            elapsed = time.perf_counter() - started
            observe_request(self.service, route_of(scope), scope["method"], status_holder[0], elapsed)
            if self.log_requests:
                extra: dict[str, Any] = {
                    "request_id": rid,
                    "service": self.service,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder[0],
                    "duration_ms": round(elapsed * 1000, 2),
                }
                principal = scope["state"].get("principal_id")
                if principal:
                    extra["principal"] = principal
                if correlation:
                    extra["correlation_id"] = correlation
                access_log.info("request", extra=extra)
            request_id_var.reset(token)
