"""Pure ASGI middleware: request ids and the access log in one pass, no per-request objects beyond a closure."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrs_kit.context import accept_or_make_request_id, request_id_var

access_log = logging.getLogger("arrs.access")


def header_value(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Accepts ``X-Request-ID`` (or ``X-Correlation-ID``) or makes one, echoes it, logs the request."""

    def __init__(self, app: ASGIApp, *, service: str, log_requests: bool = True) -> None:
        self.app = app
        self.service = service
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = accept_or_make_request_id(
            header_value(scope, b"x-request-id") or header_value(scope, b"x-correlation-id")
        )
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        status_holder: list[int] = [500]
        rid_bytes = rid.encode("latin-1")
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid_bytes))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                extra: dict[str, Any] = {
                    "request_id": rid,
                    "service": self.service,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder[0],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
                principal = scope["state"].get("principal_id")
                if principal:
                    extra["principal"] = principal
                access_log.info("request", extra=extra)
            request_id_var.reset(token)
