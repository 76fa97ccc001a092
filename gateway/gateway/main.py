"""The gateway app: authenticates every ``/v1`` request, limits it, routes ``/v1/<resource>`` to the
owning service, audits state changes, and serves its own endpoints (API clients, tokens, the audit
log), the merged OpenAPI document, ``/docs``, ``/healthz`` and ``/readyz``.

The proxy path is plain ASGI (no FastAPI routing, no request objects) because it runs on every call;
the gateway's own endpoints are an ordinary FastAPI app behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from wsgiref.simple_server import WSGIServer

import httpx
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import Message, Receive, Scope, Send

from arrs_kit.db import Database
from arrs_kit.logs import configure_logging
from arrs_kit.metrics import POOLS
from arrs_kit.middleware import RequestContextMiddleware
from arrs_kit.openapi import install_openapi
from arrs_kit.principal import Principal
from arrs_kit.problems import install_problem_handlers, problem_response
from arrs_kit.tracing import AsyncTracingTransport, TracingMiddleware, tracing_for
from arrs_kit.unavailable import DATABASE_ERRORS, install_database_handlers
from gateway.audit import WRITE_METHODS, AuditLog
from gateway.config import GatewaySettings
from gateway.edge import BodyTooLarge, TrustedProxies, has_dot_segment, header_limits, limited_receive, refuse_websocket
from gateway.health import lookup_unavailable, readiness, readiness_answer, serve_metrics
from gateway.identity.authenticator import WWW_AUTHENTICATE, Authenticator, AuthFailure
from gateway.identity.clients import ClientDirectory
from gateway.identity.signer import Signer
from gateway.identity.throttle import FailureThrottle
from gateway.identity.tokens import TokenIssuer
from gateway.openapi_merge import MergeConflict, merge_documents
from gateway.proxy import Upstream, forward, send_problem
from gateway.ratelimit import Buckets, MemoryBuckets, RedisBuckets, ratelimit_headers, retry_after_header, with_headers
from gateway.reads import Getter, HttpxGetter, PooledGetter
from gateway.relay import make_client, upstreams
from gateway.routers import router as own_router
from gateway.routing import BULK_PATHS, PUBLIC_PATHS, owner_of
from gateway.schemas import Health, Readiness
from gateway.scorecard_routes import router as scorecard_router
from gateway.telemetry import REFUSED, route_label

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
        self.db = Database(settings.database_url)
        POOLS.watch("gateway", self.db.engine)
        self.directory = ClientDirectory(self.db, cache_s=settings.credential_cache_s)
        self.throttle = FailureThrottle(settings.auth_failures_allowed, settings.auth_failures_per_source)
        self.issuer = TokenIssuer(
            {kid: key.get_secret_value() for kid, key in settings.token_keys.items()},
            settings.token_signing_key_id,
            settings.token_ttl_s,
        )
        self.auth = Authenticator(
            admin_api_key=settings.admin_api_key.get_secret_value(),
            directory=self.directory,
            issuer=self.issuer,
            throttle=self.throttle,
        )
        self.signer = Signer(settings.gateway_secret.get_secret_value())
        self.audit = AuditLog(self.db)
        self.buckets: Buckets = (
            RedisBuckets(settings.rate_limit_redis_url) if settings.rate_limit_redis_url else MemoryBuckets()
        )
        transports = transports or {}
        self.tracing = tracing_for("gateway", settings.otlp_endpoint)
        self.clients: dict[str, httpx.AsyncClient] = {
            name: make_client(
                url,
                timeout_s=settings.upstream_timeout_s,
                connect_timeout_s=settings.upstream_connect_timeout_s,
                max_connections=settings.upstream_max_connections,
                transport=transports.get(name),
                wrap=self._traced(name),
            )
            for name, url in settings.upstream_urls().items()
        }
        # Scorecards' reads: pooled aiohttp on the network, the httpx client where a transport is injected.
        self.pooled = PooledGetter(
            max_connections_per_service=settings.upstream_max_connections,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            tracing=self.tracing,
        )
        self.getters: dict[str, Getter] = {
            name: HttpxGetter(self.clients[name]) if name in transports else self.pooled.for_service(url)
            for name, url in settings.upstream_urls().items()
        }
        self._openapi: dict[str, Any] | None = None
        self._openapi_at = 0.0
        self.api = self._build_api()
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.upstreams: dict[str, Upstream] = upstreams(
            settings, self.clients, injected=set(transports), tracing=self.tracing
        )
        inner = TracingMiddleware(self._dispatch, tracing=self.tracing) if self.tracing is not None else self._dispatch
        self._app = RequestContextMiddleware(inner, service="gateway", trust_request_id=False)

    def _traced(self, peer: str) -> Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None:
        """Each upstream call in a client span, its context sent on (only when tracing is on)."""
        tracing = self.tracing
        if tracing is None:
            return None
        return lambda inner: AsyncTracingTransport(inner, tracing=tracing, peer=peer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)
            return
        await self._app(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        # Before any other work: a request whose headers are too many or too large costs nothing more.
        refusal = header_limits(scope["headers"], self.settings.max_header_count, self.settings.max_header_bytes)
        if refusal is not None:
            await send_problem(send, 431, "request-header-fields-too-large", refusal, path)
            return
        state = scope["state"]
        state["source"] = self.proxies.source_of(scope)
        if not path.startswith("/v1/"):
            await self.api(scope, receive, send)
            return
        state["route_template"] = route_label(path)
        status: list[int] = [500]
        started: list[bool] = [False]

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                started[0] = True
            await send(message)

        try:
            await self._handle(scope, receive, tracking_send)
        except BodyTooLarge:
            if started[0]:
                raise
            await self._too_large(tracking_send, path)
        finally:
            if scope["method"] in WRITE_METHODS:
                await self.audit.record(
                    request_id=state["request_id"],
                    correlation_id=state.get("correlation_id"),
                    source_ip=state.get("source"),
                    principal=state.get("principal"),
                    method=scope["method"],
                    path=path,
                    status=status[0],
                )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        state = scope["state"]
        if has_dot_segment(path):
            # An upstream client would normalise it after routing (/v1/roles/../../docs → /docs).
            await send_problem(
                send, 400, "invalid-path", "A path may not contain '.' or '..' segments, encoded or not.", path
            )
            return
        if path not in PUBLIC_PATHS:  # the token endpoint authenticates the client itself
            try:
                result = await self.auth.authenticate(scope["headers"], state["source"])
            except DATABASE_ERRORS as exc:
                await lookup_unavailable(exc, send, path)
                return
            if isinstance(result, AuthFailure):
                await self._refuse(send, result, path)
                return
            principal: Principal = result
            state["principal"] = principal
            state["principal_id"] = principal.client_id
        limit = self.settings.max_bulk_body_bytes if path in BULK_PATHS else self.settings.max_body_bytes
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(send, path)
            return
        receive = limited_receive(receive, limit)
        if path in PUBLIC_PATHS:
            await self.api(scope, receive, send)
            return
        rule = self.settings.rate_limits.get(principal.kind)
        if rule is not None:
            taken = await self.buckets.take(principal.client_id, rule[0], rule[1])
            limits = ratelimit_headers(principal.kind, rule[0], rule[1], taken)
            if taken.wait is not None:
                REFUSED.labels(principal.kind, "rate-limit").inc()
                await send_problem(
                    send,
                    429,
                    "too-many-requests",
                    f"This client may make {rule[0]:g} requests per second (bursts of {rule[1]}); slow down.",
                    path,
                    [(b"retry-after", retry_after_header(taken.wait).encode()), *limits],
                )
                return
            send = with_headers(send, limits)  # RateLimit-Policy and RateLimit on whatever answers
        owner = owner_of(path)
        if owner is None:
            await self.api(scope, receive, send)
            return
        own = [
            (b"x-request-id", state["request_id"].encode()),
            (b"x-forwarded-proto", scope.get("scheme", "http").encode()),
        ]
        if state.get("correlation_id"):
            own.append((b"x-correlation-id", state["correlation_id"].encode()))
        if state["source"]:
            own.append((b"x-forwarded-for", state["source"].encode()))
        request_id = state["request_id"]
        await forward(
            scope,
            receive,
            send,
            upstream=self.upstreams[owner],
            sign=lambda method, p, query, digest: self.signer.for_request(
                principal, p, query, request_id, method=method, body_digest=digest
            ),
            extra_headers=own,
            max_buffered_body_bytes=self.settings.max_buffered_body_bytes,
            bulk=path in BULK_PATHS,
        )

    async def _refuse(self, send: Send, failure: AuthFailure, path: str) -> None:
        if failure.status == 429:
            REFUSED.labels("unknown", "auth-failures").inc()
            headers = [(b"retry-after", str(failure.retry_after or 60).encode())]
            await send_problem(send, 429, "too-many-requests", failure.detail, path, headers)
            return
        await send_problem(
            send, 401, "unauthenticated", failure.detail, path, [(b"www-authenticate", WWW_AUTHENTICATE.encode())]
        )

    async def _too_large(self, send: Send, path: str) -> None:
        limit = self.settings.max_bulk_body_bytes if path in BULK_PATHS else self.settings.max_body_bytes
        await send_problem(send, 413, "payload-too-large", f"The body is larger than {limit} bytes.", path)

    async def merged_openapi(self) -> dict[str, Any]:
        """The merged document, fetched from the services and reused for ``openapi_cache_s``."""
        now = time.monotonic()
        if self._openapi is not None and now - self._openapi_at < self.settings.openapi_cache_s:
            return self._openapi
        names = list(self.clients)
        responses = await asyncio.gather(*(self.clients[n].get("/openapi.json") for n in names))
        documents = {"gateway": self.api.openapi()}
        for name, response in zip(names, responses, strict=True):
            response.raise_for_status()
            documents[name] = response.json()
        self._openapi = merge_documents(documents, version=VERSION, contact=self.settings.api_contact())
        self._openapi_at = now
        return self._openapi

    def serve_metrics(self) -> WSGIServer | None:
        return serve_metrics(self.settings)

    async def readiness(self) -> dict[str, str]:
        return await readiness(self.clients, self.db, self.settings.readiness_timeout_s)

    async def aclose(self) -> None:
        await self.audit.aclose()
        for client in self.clients.values():
            await client.aclose()
        for upstream in self.upstreams.values():
            await upstream.aclose()
        await self.pooled.aclose()
        await self.buckets.aclose()
        self.db.dispose()

    def _build_api(self) -> FastAPI:
        gateway = self

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            metrics = gateway.serve_metrics()
            try:
                yield
            finally:
                if metrics is not None:
                    metrics.shutdown()
                    metrics.server_close()
                await gateway.aclose()
                if gateway.tracing is not None:
                    gateway.tracing.flush()

        api = FastAPI(
            title="ARRS gateway",
            version=VERSION,
            lifespan=lifespan,
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
            openapi_tags=[
                {"name": "platform", "description": "The gateway's health and documents."},
                {"name": "clients", "description": "API clients (admin)."},
                {"name": "oauth", "description": "OAuth 2.0 client credentials."},
                {"name": "audit", "description": "The audit log of state-changing requests (admin)."},
                {"name": "scorecards", "description": "PCN scorecards composed from the three services."},
            ],
        )
        api.state.gateway = self
        api.state.db = self.db
        api.state.settings = self.settings
        install_problem_handlers(api)
        install_database_handlers(api)
        api.include_router(own_router)
        api.include_router(scorecard_router)

        @api.get(
            "/healthz",
            tags=["platform"],
            operation_id="gateway_liveness",
            summary="Gateway liveness",
            response_model=Health,
            openapi_extra={"security": []},
        )
        async def healthz() -> Health:
            """The gateway process is alive."""
            return Health(status="ok", service="gateway")

        @api.get(
            "/readyz",
            tags=["platform"],
            operation_id="gateway_readiness",
            summary="Gateway readiness",
            response_model=Readiness,
            openapi_extra={"security": []},
            responses={503: {"description": "The gateway's database is unreachable, or no upstream is ready"}},
        )
        async def readyz() -> JSONResponse:
            """The gateway can serve: its own database answers and at least one upstream service is ready.

            Each upstream's state is in the body; with some down the status is `degraded` (still 200: a
            service that is down answers 503 on its own routes only). 503 when the gateway's database
            is unreachable or no upstream is ready. Each check waits at most
            `GATEWAY_READINESS_TIMEOUT_S`."""
            return readiness_answer(await gateway.readiness())

        @api.get("/openapi.json", include_in_schema=False)
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

        @api.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="ARRS platform API")

        install_openapi(api)
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
