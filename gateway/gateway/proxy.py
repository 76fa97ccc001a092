"""The forwarding hot path, in pure ASGI: what is forwarded, the body read and hashed, the answer
relayed by an :class:`Upstream` (:mod:`gateway.relay`).

Only the request headers a service needs are forwarded (:data:`FORWARD_REQUEST`, minus any that
``Connection`` names as hop-by-hop). Bodies up to ``max_buffered_body_bytes`` are read whole; larger
ones are spooled (memory, then a temporary file) while their digest is computed, because the
signature the service checks covers the body. Responses stream back as they arrive.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import IO, Protocol

from starlette.types import Receive, Scope, Send

from arrs_kit.problems import PROBLEM_MEDIA_TYPE, problem_body

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
DROP_RESPONSE = {
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


Sign = Callable[[str, str, str, bytes], list[tuple[str, str]]]
"""The signed principal headers of a request: (method, path, raw query, body digest) → headers."""


class Upstream(Protocol):
    """Sends one request to a service and relays its answer to the caller (:mod:`gateway.relay`)."""

    async def relay(self, scope: Scope, send: Send, outgoing: Outgoing, *, bulk: bool) -> None: ...

    async def aclose(self) -> None: ...


class Outgoing:
    """A request as it goes to a service: method, raw path and query, headers, body, how to sign it."""

    __slots__ = ("body", "headers", "method", "path", "query", "sign")

    def __init__(
        self, method: str, path: bytes, query: bytes, headers: list[tuple[bytes, bytes]], body: Body, sign: Sign
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.sign = sign


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    upstream: Upstream,
    sign: Sign,
    extra_headers: list[tuple[bytes, bytes]],
    max_buffered_body_bytes: int,
    bulk: bool = False,
) -> None:
    """Forward one request to ``upstream`` and relay the answer (``bulk``: with the bulk timeout).

    ``sign`` answers the signed principal headers for the request exactly as it is sent (final path
    and query) and the body's digest; ``extra_headers`` are the gateway's own (request and
    correlation ids, the client's address)."""
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
    try:
        path = scope.get("raw_path") or scope["path"].encode()
        outgoing = Outgoing(scope["method"], path, scope.get("query_string", b""), headers, body, sign)
        await upstream.relay(scope, send, outgoing, bulk=bulk)
    finally:
        body.close()


EMPTY_DIGEST = hashlib.sha256(b"").digest()
