"""The forwarding hot path, in pure ASGI: one pooled ``httpx.AsyncClient`` per upstream.

Only the request headers a service needs are forwarded (:data:`FORWARD_REQUEST`, minus any that
``Connection`` names as hop-by-hop). Bodies up to ``max_buffered_body_bytes`` are read whole; larger
ones are spooled (memory, then a temporary file) while their digest is computed, because the
signature the service checks covers the body. Responses stream back as they arrive.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from typing import IO

import httpx
from starlette.types import Receive, Scope, Send

from arrs_kit.problems import PROBLEM_MEDIA_TYPE, problem_body
from gateway.telemetry import UPSTREAM_ERRORS, UPSTREAM_SECONDS

log = logging.getLogger("arrs.gateway")

# What a service needs from the caller's request; nothing else is forwarded, so the cost of
# forwarding is small and linear whatever a client sends, and no client header reaches a service
# unexamined. Identity, request ids and the client's address are set by the gateway itself.
FORWARD_REQUEST = frozenset(
    {
        b"accept",
        b"content-type",
        b"if-match",
        b"if-none-match",
        b"idempotency-key",
        b"traceparent",
        b"tracestate",
    }
)
_DROP_RESPONSE = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"x-request-id",
    b"server",
    b"date",
}


KEEPALIVE_EXPIRY_S = 2.0
"""How long an idle upstream connection is kept for reuse: well under the services' own keep-alive
(uvicorn's 5 s), so the gateway never sends a request on a connection the service is closing at that
moment (httpx's default, 5 s, raced uvicorn's: now and then a write answered 502, the connection
broken, seen under load in the claims benchmark)."""


def make_client(
    base_url: str,
    *,
    timeout_s: float,
    connect_timeout_s: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
) -> httpx.AsyncClient:
    """The pooled client of one upstream. ``transport``: the service in-process (tests); ``wrap``: a
    layer around the transport (tracing), given only when it is wanted."""
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


async def send_problem(
    send: Send, status: int, code: str, detail: str, instance: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(problem_body(status=status, code=code, detail=detail, instance=instance)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


SPOOL_MEMORY_BYTES = 1_048_576
SPOOL_CHUNK_BYTES = 65_536


class Body:
    """A request body as read from the client: its SHA-256 and either its bytes or a spooled file."""

    def __init__(self, digest: bytes, size: int, data: bytes = b"", spool: IO[bytes] | None = None) -> None:
        self.digest = digest
        self.size = size
        self.data = data
        self.spool = spool

    def content(self) -> bytes | AsyncIterator[bytes]:
        if self.spool is None:
            return self.data
        spool = self.spool
        spool.seek(0)

        async def chunks() -> AsyncIterator[bytes]:
            # Reads from a spooled file come from memory or the page cache: short enough to do
            # on the event loop, in chunks small enough not to hold it.
            while chunk := spool.read(SPOOL_CHUNK_BYTES):
                yield chunk

        return chunks()

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


async def read_body(receive: Receive, *, buffered: bool) -> Body:
    """Read the whole body, hashing it; in memory when ``buffered``, else spooled to a temporary file."""
    digest = hashlib.sha256()
    size = 0
    chunks: list[bytes] = []
    spool = None if buffered else tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                if spool is None:
                    chunks.append(chunk)
                else:
                    spool.write(chunk)
            if not message.get("more_body", False):
                break
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    return Body(digest.digest(), size, b"".join(chunks), spool)


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The header names ``Connection`` lists: hop-by-hop for this connection only (RFC 9110 §7.6.1)."""
    names: set[bytes] = set()
    for key, value in headers:
        if key == b"connection":
            names.update(token.strip().lower() for token in value.split(b","))
    return frozenset(names)


Signer = Callable[[httpx.Request, bytes], list[tuple[str, str]]]


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    client: httpx.AsyncClient,
    upstream: str,
    sign: Signer,
    extra_headers: list[tuple[bytes, bytes]],
    max_buffered_body_bytes: int,
    upstream_timeout: httpx.Timeout | None = None,
) -> None:
    """Forward one request to ``client``'s upstream and relay the answer (``upstream_timeout``
    replaces the client's own for this request).

    ``sign`` answers the signed principal headers for the request exactly as httpx will send it
    (final path and query) and the body's digest; ``extra_headers`` are the gateway's own (request
    and correlation ids, the client's address)."""
    hop_by_hop = connection_tokens(scope["headers"])
    headers: list[tuple[bytes, bytes]] = []
    content_length: int | None = None
    chunked = False
    for key, value in scope["headers"]:
        if key == b"transfer-encoding":
            chunked = True
        elif key == b"content-length":
            try:
                content_length = int(value)
            except ValueError:
                await send_problem(send, 400, "bad-request", "Content-Length is not a number.", scope["path"])
                return
        elif key in FORWARD_REQUEST and key not in hop_by_hop:
            headers.append((key, value))
    headers.extend(extra_headers)

    buffered = not chunked and (content_length is None or content_length <= max_buffered_body_bytes)
    body = await read_body(receive, buffered=buffered) if chunked or content_length else Body(EMPTY_DIGEST, 0)
    if body.spool is not None:  # sent with its length, not chunked: the service knows what comes
        headers.append((b"content-length", str(body.size).encode()))
    try:
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        request = client.build_request(scope["method"], target, headers=headers, content=body.content())
        if request.url.path != scope["path"]:
            # httpx rewrote the path (dot segments are refused before routing, so this is a bug):
            # never send a request anywhere but where it was routed.
            log.error("upstream path differs from the routed path", extra={"upstream": upstream})
            await send_problem(send, 400, "invalid-path", "The path cannot be forwarded as sent.", scope["path"])
            return
        for name, value in sign(request, body.digest):
            request.headers[name] = value
        if upstream_timeout is not None:
            request.extensions["timeout"] = upstream_timeout.as_dict()
        await _exchange(scope, send, client, request, upstream)
    finally:
        body.close()


EMPTY_DIGEST = hashlib.sha256(b"").digest()


async def _exchange(scope: Scope, send: Send, client: httpx.AsyncClient, request: httpx.Request, upstream: str) -> None:
    sent_at = time.perf_counter()
    try:
        response = await client.send(request, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        UPSTREAM_ERRORS.labels(upstream, "unreachable").inc()
        log.warning("upstream unavailable", extra={"upstream": upstream, "error": type(exc).__name__})
        await send_problem(
            send,
            503,
            "upstream-unavailable",
            f"The {upstream} service is not reachable; try again shortly.",
            scope["path"],
            [(b"retry-after", b"5")],
        )
        return
    except httpx.TimeoutException as exc:
        UPSTREAM_ERRORS.labels(upstream, "timeout").inc()
        log.warning("upstream timeout", extra={"upstream": upstream, "error": type(exc).__name__})
        await send_problem(
            send, 504, "upstream-timeout", f"The {upstream} service did not answer in time.", scope["path"]
        )
        return
    except httpx.TransportError as exc:
        UPSTREAM_ERRORS.labels(upstream, "broken").inc()
        log.warning("upstream failed", extra={"upstream": upstream, "error": type(exc).__name__})
        await send_problem(send, 502, "bad-gateway", f"The {upstream} service broke the connection.", scope["path"])
        return

    UPSTREAM_SECONDS.labels(upstream, str(response.status_code)).observe(time.perf_counter() - sent_at)
    try:
        out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _DROP_RESPONSE]
        started = False
        try:
            async for chunk in response.aiter_raw():
                if not started:
                    await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
                    started = True
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.TransportError as exc:
            UPSTREAM_ERRORS.labels(upstream, "timeout" if isinstance(exc, httpx.TimeoutException) else "broken").inc()
            log.warning("upstream broke mid-response", extra={"upstream": upstream, "error": type(exc).__name__})
            if started:
                raise  # headers are out: the server can only cut the connection
            if isinstance(exc, httpx.TimeoutException):
                await send_problem(
                    send, 504, "upstream-timeout", f"The {upstream} service did not answer in time.", scope["path"]
                )
            else:
                await send_problem(
                    send, 502, "bad-gateway", f"The {upstream} service broke the connection.", scope["path"]
                )
            return
        if not started:
            await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await response.aclose()
