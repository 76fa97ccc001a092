"""The one way an ARRS service app is assembled: problem handlers, request context, health, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Table
from starlette.types import ASGIApp

from arrs_kit.db import Database
from arrs_kit.idempotency import IdempotencyStore, Replayed, replayed_response
from arrs_kit.logs import configure_logging
from arrs_kit.metrics import POOLS, metrics_response
from arrs_kit.middleware import RequestContextMiddleware
from arrs_kit.openapi import install_openapi
from arrs_kit.problems import install_problem_handlers, problem_response
from arrs_kit.settings import ServiceSettings
from arrs_kit.signed import SignedPrincipalMiddleware, nonce_store
from arrs_kit.tracing import Tracing, TracingMiddleware, tracing_for
from arrs_kit.unavailable import install_database_handlers


def create_service_app(
    *,
    name: str,
    title: str,
    description: str,
    version: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    tags: list[dict[str, Any]] | None = None,
    configure_logs: bool = True,
    principal_kinds: Collection[str] | None = None,
    idempotency: Table | None = None,
    tracing: Tracing | None = None,
    innermost: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
) -> FastAPI:
    """Build a service: its database is opened lazily and disposed when the app stops.

    ``principal_kinds``: the kinds of client the service knows; a signed principal of any other kind
    is refused with 401 before any route runs. ``idempotency``: the service's idempotency-key table,
    for the writes that take an ``Idempotency-Key`` (:func:`arrs_kit.idempotency.request_lease`).
    ``tracing``: the app's tracing (by default that of ``settings.otlp_endpoint``; none without one).
    ``innermost``: pure ASGI middleware run inside the kit's (after the request id, the access log and
    the signature check), just before FastAPI routes the request; the first given is the outermost."""
    if configure_logs:
        configure_logging(settings.log_level)
    db = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )

    POOLS.watch(name, db.engine)
    tracing = tracing or tracing_for(name, settings.otlp_endpoint)
    nonces = nonce_store(settings.nonce_redis_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            db.dispose()
            await nonces.aclose()
            if tracing is not None:
                tracing.flush()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=tags,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.service_name = name
    app.state.tracing = tracing
    install_problem_handlers(app)
    install_database_handlers(app)
    if idempotency is not None:
        app.state.idempotency = IdempotencyStore(idempotency, lease=timedelta(seconds=settings.idempotency_lease_s))
        app.add_exception_handler(Replayed, replayed_response)  # a retry: the first answer, replayed
    for middleware in reversed(innermost):
        app.add_middleware(middleware)
    # The request context is outermost, so even a refused signature answers with a request id.
    app.add_middleware(
        SignedPrincipalMiddleware,
        secret=settings.gateway_secret.get_secret_value(),
        other_secrets=[accepted.get_secret_value() for accepted in settings.gateway_secrets_accepted],
        nonces=nonces,
        kinds=principal_kinds,
    )
    if tracing is not None:
        app.add_middleware(TracingMiddleware, tracing=tracing)
    app.add_middleware(RequestContextMiddleware, service=name)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics (in the cluster only: the gateway routes nothing but ``/v1`` to a service)."""
        return metrics_response()

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            db.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return problem_response(
                status=503, code="service-unavailable", detail=f"database unreachable: {type(exc).__name__}"
            )
        return JSONResponse({"status": "ready", "service": name})

    for router in routers:
        app.include_router(router)
    install_openapi(app, signed=True)
    return app
