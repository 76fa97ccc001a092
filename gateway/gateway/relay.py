"""How a forwarded request reaches its service and its answer comes back: two :class:`~gateway.proxy.Upstream`s.

- :class:`PooledUpstream`: what runs on the network, the minimal HTTP/1.1 pool of
  :mod:`gateway.upstream` (its docstring says why it replaced httpx on this path).
- :class:`HttpxUpstream`: the gateway's ``httpx.AsyncClient`` for a service, used when the gateway is
  built with an injected transport (the tests' in-process services).

Both answer the same problems for the same failures: 503 ``upstream-unavailable`` (nothing reached
the service), 504 ``upstream-timeout``, 502 ``bad-gateway`` (the connection broke before the answer's
head); once the head is out, a failure can only cut the connection.
"""

from __future__ import annotations

import http.cookiejar
import logging
import time
from collections.abc import Callable, Mapping, Set

import httpx
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import Scope, Send

from arrs_kit.tracing import Tracing, trace_headers
from gateway.config import GatewaySettings
from gateway.proxy import DROP_RESPONSE, Outgoing, Upstream, send_problem
from gateway.telemetry import UPSTREAM_ERRORS, UPSTREAM_SECONDS
from gateway.upstream import KEEPALIVE_EXPIRY_S, UpstreamFailure, UpstreamPool

log = logging.getLogger("arrs.gateway")

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_TRACE_CONTEXT = frozenset({b"traceparent", b"tracestate"})


async def _unavailable(scope: Scope, send: Send, upstream: str) -> None:
    await send_problem(
        send,
        503,
        "upstream-unavailable",
        f"The {upstream} service is not reachable; try again shortly.",
        scope["path"],
        [(b"retry-after", b"5")],
    )


async def _timeout(scope: Scope, send: Send, upstream: str) -> None:
    await send_problem(send, 504, "upstream-timeout", f"The {upstream} service did not answer in time.", scope["path"])


async def _broken(scope: Scope, send: Send, upstream: str) -> None:
    await send_problem(send, 502, "bad-gateway", f"The {upstream} service broke the connection.", scope["path"])


_ANSWERS = {"unreachable": _unavailable, "timeout": _timeout, "broken": _broken}
_LOGGED = {"unreachable": "upstream unavailable", "timeout": "upstream timeout", "broken": "upstream failed"}


class PooledUpstream:
    """One service behind :class:`gateway.upstream.UpstreamPool`; a ``CLIENT`` span per request when
    ``tracing`` is on."""

    def __init__(self, name: str, pool: UpstreamPool, *, bulk_timeout_s: float, tracing: Tracing | None) -> None:
        self.name = name
        self.pool = pool
        self.bulk_timeout_s = bulk_timeout_s
        self.tracing = tracing

    async def relay(self, scope: Scope, send: Send, outgoing: Outgoing, *, bulk: bool) -> None:
        if self.tracing is None:
            await self._relay(scope, send, outgoing, bulk, [])
            return
        attributes = {
            "http.request.method": outgoing.method,
            "url.full": f"http://{self.pool.host_header.decode('latin-1')}{scope['path']}",
            "server.address": self.pool.host,
            "peer.service": self.name,
        }
        with self.tracing.tracer.start_as_current_span(
            outgoing.method, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            status = await self._relay(scope, send, outgoing, bulk, list(trace_headers()))
            if status:
                span.set_attribute("http.response.status_code", status)
            if not status or status >= 500:
                span.set_status(StatusCode.ERROR)

    async def _relay(
        self, scope: Scope, send: Send, outgoing: Outgoing, bulk: bool, context: list[tuple[str, str]]
    ) -> int:
        """Relay one exchange; answers the service's status, or 0 when it gave none."""
        timeout_s = self.bulk_timeout_s if bulk else self.pool.timeout_s
        body = outgoing.body
        head = self._head(outgoing, scope["path"], context)
        try:
            connection = await self.pool.acquire(head_only=outgoing.method == "HEAD")
        except UpstreamFailure as failure:
            await self._failed(scope, send, failure)
            return 0
        sent_at = time.perf_counter()
        started = False
        try:
            if body.spool is None:
                connection.write(head + body.data)
            else:
                connection.write(head)
                content = body.content()
                assert not isinstance(content, bytes)
                async for chunk in content:
                    connection.write(chunk)
                    await connection.drain(timeout_s)
            await connection.head(timeout_s)
            UPSTREAM_SECONDS.labels(self.name, str(connection.status)).observe(time.perf_counter() - sent_at)
            headers = [(k, v) for k, v in connection.headers if k not in DROP_RESPONSE]
            async for chunk in connection.body(timeout_s):
                if not started:
                    await send({"type": "http.response.start", "status": connection.status, "headers": headers})
                    started = True
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not started:
                await send({"type": "http.response.start", "status": connection.status, "headers": headers})
                started = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return connection.status
        except UpstreamFailure as failure:
            if started:
                UPSTREAM_ERRORS.labels(self.name, failure.kind).inc()
                log.warning("upstream broke mid-response", extra={"upstream": self.name, "error": failure.cause})
                raise  # the head is out: the server can only cut the connection
            await self._failed(scope, send, failure)
            return 0
        finally:
            self.pool.release(connection)

    def _head(self, outgoing: Outgoing, path: str, context: list[tuple[str, str]]) -> bytes:
        """The request line and headers, signed for exactly this path and query, as one buffer."""
        method = outgoing.method
        body = outgoing.body
        query = outgoing.query
        target = outgoing.path + b"?" + query if query else outgoing.path
        parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", self.pool.host_header, b"\r\n"]
        for key, value in outgoing.headers:
            if context and key in _TRACE_CONTEXT:
                continue  # this call's own span carries the trace on (below)
            parts += (key, b": ", value, b"\r\n")
        if body.size or method in _WITH_BODY:
            parts += (b"content-length: ", str(body.size).encode("ascii"), b"\r\n")
        signed = outgoing.sign(method, path, query.decode("latin-1"), body.digest)
        for field, text in (*signed, *context):
            parts += (field.encode("latin-1"), b": ", text.encode("latin-1"), b"\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    async def _failed(self, scope: Scope, send: Send, failure: UpstreamFailure) -> None:
        UPSTREAM_ERRORS.labels(self.name, failure.kind).inc()
        log.warning(_LOGGED[failure.kind], extra={"upstream": self.name, "error": failure.cause})
        await _ANSWERS[failure.kind](scope, send, self.name)

    async def aclose(self) -> None:
        await self.pool.aclose()


def make_client(
    base_url: str,
    *,
    timeout_s: float,
    connect_timeout_s: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """The httpx client of one upstream, for readiness, the OpenAPI documents and the tests'
    in-process services. ``transport``: the service in-process (tests); ``wrap``: a layer around the
    transport (tracing), given only when it is wanted."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    if wrap is not None:
        transport = wrap(transport or httpx.AsyncHTTPTransport(limits=limits))
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        # A shared client must not keep upstream cookies and replay them on other callers' requests.
        cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
    )
    # Forward what the caller sent, not httpx's defaults. (Assigning ``client.headers`` merges the
    # defaults back in: Accept, Accept-Encoding, Connection and User-Agent must be removed.)
    for name in list(client.headers.keys()):
        del client.headers[name]
    return client


class HttpxUpstream:
    """One service behind its ``httpx.AsyncClient`` (an injected transport: the tests' services)."""

    def __init__(self, name: str, client: httpx.AsyncClient, *, bulk_timeout: httpx.Timeout) -> None:
        self.name = name
        self.client = client
        self.bulk_timeout = bulk_timeout

    async def relay(self, scope: Scope, send: Send, outgoing: Outgoing, *, bulk: bool) -> None:
        body = outgoing.body
        headers = list(outgoing.headers)
        if body.spool is not None:  # sent with its length, not chunked: the service knows what comes
            headers.append((b"content-length", str(body.size).encode()))
        query = outgoing.query
        target = (outgoing.path + (b"?" + query if query else b"")).decode("latin-1")
        request = self.client.build_request(outgoing.method, target, headers=headers, content=body.content())
        if request.url.path != scope["path"]:
            # httpx rewrote the path (dot segments are refused before routing, so this is a bug):
            # never send a request anywhere but where it was routed.
            log.error("upstream path differs from the routed path", extra={"upstream": self.name})
            await send_problem(send, 400, "invalid-path", "The path cannot be forwarded as sent.", scope["path"])
            return
        signed = outgoing.sign(outgoing.method, request.url.path, request.url.query.decode("latin-1"), body.digest)
        for name, value in signed:
            request.headers[name] = value
        if bulk:
            request.extensions["timeout"] = self.bulk_timeout.as_dict()
        await self._exchange(scope, send, request)

    async def _exchange(self, scope: Scope, send: Send, request: httpx.Request) -> None:
        upstream = self.name
        sent_at = time.perf_counter()
        try:
            response = await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            await self._failed(scope, send, "unreachable", exc)
            return
        except httpx.TimeoutException as exc:
            await self._failed(scope, send, "timeout", exc)
            return
        except httpx.TransportError as exc:
            await self._failed(scope, send, "broken", exc)
            return

        UPSTREAM_SECONDS.labels(upstream, str(response.status_code)).observe(time.perf_counter() - sent_at)
        try:
            out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in DROP_RESPONSE]
            start = {"type": "http.response.start", "status": response.status_code, "headers": out_headers}
            started = False
            try:
                async for chunk in response.aiter_raw():
                    if not started:
                        await send(start)
                        started = True
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except httpx.TransportError as exc:
                kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "broken"
                if started:
                    UPSTREAM_ERRORS.labels(upstream, kind).inc()
                    error = type(exc).__name__
                    log.warning("upstream broke mid-response", extra={"upstream": upstream, "error": error})
                    raise  # headers are out: the server can only cut the connection
                await self._failed(scope, send, kind, exc)
                return
            if not started:
                await send(start)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _failed(self, scope: Scope, send: Send, kind: str, exc: Exception) -> None:
        UPSTREAM_ERRORS.labels(self.name, kind).inc()
        log.warning(_LOGGED[kind], extra={"upstream": self.name, "error": type(exc).__name__})
        await _ANSWERS[kind](scope, send, self.name)

    async def aclose(self) -> None:
        """Nothing of its own: the client is the gateway's, closed with the others."""


def upstreams(
    settings: GatewaySettings,
    clients: Mapping[str, httpx.AsyncClient],
    *,
    injected: Set[str],
    tracing: Tracing | None,
) -> dict[str, Upstream]:
    """The forwarding path of each service: its own pool on the network, its httpx client where a
    transport is ``injected``. A bulk upload is merged after its last byte: its answer may take
    minutes, not seconds (``bulk_upstream_timeout_s``)."""
    bulk_timeout = httpx.Timeout(
        settings.bulk_upstream_timeout_s,
        connect=settings.upstream_connect_timeout_s,
        pool=settings.upstream_connect_timeout_s,
    )
    chosen: dict[str, Upstream] = {}
    for name, url in settings.upstream_urls().items():
        if name in injected:
            chosen[name] = HttpxUpstream(name, clients[name], bulk_timeout=bulk_timeout)
            continue
        pool = UpstreamPool(
            url,
            timeout_s=settings.upstream_timeout_s,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            max_connections=settings.upstream_max_connections,
        )
        chosen[name] = PooledUpstream(name, pool, bulk_timeout_s=settings.bulk_upstream_timeout_s, tracing=tracing)
    return chosen
