"""OpenTelemetry tracing: a W3C ``traceparent`` is taken from each request, the app's spans go to an
OTLP/HTTP collector, and every call an app makes to another carries the trace on.

It is on only when an OTLP endpoint is configured (``ARRS_OTLP_ENDPOINT``, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``). When it is off nothing is installed: no middleware, no transport
wrapper, no call per request. Each app's tracer provider is its own (not the process-global one), so
apps built side by side in one process (tests) keep their spans apart.

Spans: one ``SERVER`` span per request (named ``METHOD /route/{template}``, with the platform's
request id as ``arrs.request_id``), and one ``CLIENT`` span per outgoing call (per attempt, when
calls are retried), whose context is what the next app receives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import httpx
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrs_kit.metrics import method_label, route_of


class Tracing:
    """One app's tracer and the provider that exports its spans."""

    def __init__(self, service: str, provider: TracerProvider) -> None:
        self.service = service
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("arrs")

    def flush(self, timeout_ms: int = 30_000) -> bool:
        return bool(self.provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        self.provider.shutdown()


_apps: dict[tuple[str, str], Tracing] = {}
_lock = threading.Lock()


def tracing_for(service: str, endpoint: str | None) -> Tracing | None:
    """The tracing of ``service`` exporting to ``endpoint`` (an OTLP/HTTP base URL), or None when no
    endpoint is configured. Made once per process and endpoint: the app and its clients share it."""
    if not endpoint:
        return None
    key = (service, endpoint)
    with _lock:
        existing = _apps.get(key)
        if existing is None:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
            provider.add_span_processor(BatchSpanProcessor(exporter))
            existing = _apps[key] = Tracing(service, provider)
        return existing


class _AsgiHeaders(Getter[Scope]):
    def get(self, carrier: Scope, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier["headers"] if header == name]
        return values or None

    def keys(self, carrier: Scope) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier["headers"]]


_ASGI_HEADERS = _AsgiHeaders()


def context_of(scope: Scope) -> Context:
    """The trace context a request arrived with (``traceparent``/``tracestate``), or a new root."""
    return propagate.extract(scope, getter=_ASGI_HEADERS)


class TracingMiddleware:
    """A ``SERVER`` span around each HTTP request, continuing the caller's trace. Placed inside the
    request-context middleware, so the request id is known."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing) -> None:
        self.app = app
        self.tracer = tracing.tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = method_label(scope["method"])
        state = scope.setdefault("state", {})
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": scope["path"]}
        if state.get("request_id"):
            attributes["arrs.request_id"] = state["request_id"]
        if state.get("correlation_id"):
            attributes["arrs.correlation_id"] = state["correlation_id"]
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        with self.tracer.start_as_current_span(
            method, context=context_of(scope), kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                route = route_of(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status[0])
                if state.get("principal_id"):
                    span.set_attribute("arrs.client_id", state["principal_id"])
                if status[0] >= 500:
                    span.set_status(StatusCode.ERROR)


def _client_span_attributes(request: httpx.Request, peer: str) -> dict[str, Any]:
    return {
        "http.request.method": request.method,
        "url.full": str(request.url.copy_with(query=None)),
        "server.address": request.url.host,
        "peer.service": peer,
    }


class TracingTransport(httpx.BaseTransport):
    """A ``CLIENT`` span per call of a blocking client, its context sent on as ``traceparent``."""

    def __init__(self, inner: httpx.BaseTransport, *, tracing: Tracing, peer: str) -> None:
        self.inner = inner
        self.tracer = tracing.tracer
        self.peer = peer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attributes = _client_span_attributes(request, self.peer)
        with self.tracer.start_as_current_span(request.method, kind=SpanKind.CLIENT, attributes=attributes) as span:
            propagate.inject(request.headers)
            response = self.inner.handle_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    def close(self) -> None:
        self.inner.close()


class AsyncTracingTransport(httpx.AsyncBaseTransport):
    """A ``CLIENT`` span per call of an async client, its context sent on as ``traceparent``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, tracing: Tracing, peer: str) -> None:
        self.inner = inner
        self.tracer = tracing.tracer
        self.peer = peer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attributes = _client_span_attributes(request, self.peer)
        with self.tracer.start_as_current_span(request.method, kind=SpanKind.CLIENT, attributes=attributes) as span:
            propagate.inject(request.headers)
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def trace_headers() -> Iterable[tuple[str, str]]:
    """The current trace context as headers, for a client that is not httpx (the gateway's pooled reads)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.items()
