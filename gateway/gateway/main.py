"""The gateway app: routes ``/v1/<resource>`` to the owning service, authenticates, and serves the
merged OpenAPI document, ``/docs``, ``/healthz`` and ``/readyz``.

The proxy path is plain ASGI (no FastAPI routing, no request objects) because it runs on every call;
the gateway's own endpoints are an ordinary FastAPI app behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import Receive, Scope, Send

from arrs_kit.logs import configure_logging
from arrs_kit.middleware import RequestContextMiddleware
from arrs_kit.problems import install_problem_handlers, problem_response
from gateway.auth import WWW_AUTHENTICATE, Authenticator
from gateway.config import GatewaySettings
from gateway.openapi_merge import MergeConflict, merge_documents
from gateway.proxy import forward, make_client, send_problem
from gateway.routing import owner_of

VERSION = "1.0.0"


class Gateway:
    """The ASGI application. ``transports`` lets tests put the services in-process."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        configure_logs: bool = True,
    ) -> None:
        if configure_logs:
            configure_logging(settings.log_level)
        self.settings = settings
        self.auth = Authenticator(
            admin_api_key=settings.admin_api_key.get_secret_value(),
            gateway_secret=settings.gateway_secret.get_secret_value(),
        )
        transports = transports or {}
        self.clients: dict[str, httpx.AsyncClient] = {
            name: make_client(
                url,
                timeout_s=settings.upstream_timeout_s,
                connect_timeout_s=settings.upstream_connect_timeout_s,
                max_connections=settings.upstream_max_connections,
                transport=transports.get(name),
            )
            for name, url in settings.upstream_urls().items()
        }
        self._openapi: dict[str, Any] | None = None
        self._openapi_at = 0.0
        self.api = self._build_api()
        self._app = RequestContextMiddleware(self._dispatch, service="gateway")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            owner = owner_of(scope["path"])
            if owner is not None:
                await self._proxy(owner, scope, receive, send)
                return
        await self.api(scope, receive, send)

    async def _proxy(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        api_key = None
        for key, value in scope["headers"]:
            if key == b"x-api-key" or key == b"apikey":
                api_key = value.decode("latin-1")
                break
        principal = self.auth.authenticate(api_key)
        if principal is None:
            detail = "Send a valid API key in X-API-Key." if api_key is None else "The API key is not valid."
            await send_problem(
                send, 401, "unauthenticated", detail, scope["path"], [(b"www-authenticate", WWW_AUTHENTICATE.encode())]
            )
            return
        state = scope["state"]
        state["principal_id"] = principal.client_id
        await forward(
            scope,
            receive,
            send,
            client=self.clients[owner],
            upstream=owner,
            extra_headers=self.auth.forwarded_headers(principal, scope["method"], scope["path"]),
            request_id=state["request_id"],
            max_buffered_body_bytes=self.settings.max_buffered_body_bytes,
        )

    async def merged_openapi(self) -> dict[str, Any]:
        """The merged document, fetched from the services and reused for ``openapi_cache_s``."""
        now = time.monotonic()
        if self._openapi is not None and now - self._openapi_at < self.settings.openapi_cache_s:
            return self._openapi
        names = list(self.clients)
        responses = await asyncio.gather(*(self.clients[n].get("/openapi.json") for n in names))
        documents = {}
        for name, response in zip(names, responses, strict=True):
            response.raise_for_status()
            documents[name] = response.json()
        self._openapi = merge_documents(documents, version=VERSION)
        self._openapi_at = now
        return self._openapi

    async def readiness(self) -> dict[str, str]:
        async def check(name: str) -> str:
            try:
                response = await self.clients[name].get("/readyz")
            except httpx.HTTPError as exc:
                return f"unreachable ({type(exc).__name__})"
            return "ready" if response.status_code == 200 else f"not ready ({response.status_code})"

        names = list(self.clients)
        results = await asyncio.gather(*(check(n) for n in names))
        return dict(zip(names, results, strict=True))

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def _build_api(self) -> FastAPI:
        gateway = self

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await gateway.aclose()

        api = FastAPI(
            title="ARRS gateway", version=VERSION, lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
        )
        install_problem_handlers(api)

        @api.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": "gateway"}

        @api.get("/readyz")
        async def readyz() -> JSONResponse:
            upstreams = await gateway.readiness()
            if all(state == "ready" for state in upstreams.values()):
                return JSONResponse({"status": "ready", "upstreams": upstreams})
            down = ", ".join(f"{n}: {s}" for n, s in upstreams.items() if s != "ready")
            return problem_response(
                status=503, code="not-ready", detail=f"Upstreams not ready: {down}", extra={"upstreams": upstreams}
            )

        @api.get("/openapi.json")
        async def openapi() -> JSONResponse:
            try:
                return JSONResponse(await gateway.merged_openapi())
            except MergeConflict as exc:
                return problem_response(
                    status=500, code="openapi-merge-conflict", detail=str(exc), instance="/openapi.json"
                )
            except httpx.HTTPError as exc:
                return problem_response(
                    status=503,
                    code="upstream-unavailable",
                    detail=f"A service's OpenAPI document could not be read ({type(exc).__name__}); "
                    "the merged document is only served whole.",
                    instance="/openapi.json",
                )

        @api.get("/docs")
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="ARRS platform API")

        return api


def create_app(
    settings: GatewaySettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    configure_logs: bool = True,
) -> Gateway:
    return Gateway(settings or GatewaySettings(), transports=transports, configure_logs=configure_logs)


def app() -> Gateway:
    """Factory for ``uvicorn --factory gateway.main:app``."""
    return create_app()
