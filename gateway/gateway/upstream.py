"""The proxy's connections to a service: a minimal pooled HTTP/1.1 client on the event loop.

One :class:`UpstreamPool` per service keeps its keep-alive connections. A request is written with one
``transport.write`` of its head (and its body, when it is held in memory); the answer is parsed by
``httptools`` (llhttp, C) in the protocol's own ``data_received`` as it arrives. Nothing else runs per
request: no request or response objects, no URL parsing, no header classes, no task per read.

It replaced ``httpx.AsyncClient`` on the forwarding path, where httpx and httpcore (pool bookkeeping,
h11 in Python, anyio's socket streams) were about 44% of the gateway's CPU on a proxied read (a py-spy
profile). ``bench/RESULTS.md`` has the measurement. httpx stays for everything off the hot path
(readiness, the merged OpenAPI document) and for the tests' in-process services.

Kept from the httpx client it replaced:

- a connect timeout, and a wait for a free connection bounded by the same time, both answered as
  ``unreachable`` (503);
- a read timeout between the request and its answer's head and between any two reads of its body,
  and a write timeout per body chunk (``timeout``, 504);
- a connection broken or answering something that is not HTTP/1.1 is ``broken`` (502, or the
  response is cut when its head is already out);
- idle connections are given up after :data:`KEEPALIVE_EXPIRY_S`, well before a service closes them;
- a connection is reused only after a whole answer the service said may be followed by another.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

KEEPALIVE_EXPIRY_S = 2.0
"""How long an idle upstream connection is kept for reuse: well under the services' own keep-alive
(uvicorn's 5 s), so the gateway never sends a request on a connection the service is closing at that
moment (at 5 s, now and then a write answered 502, the connection broken, seen under load in the
claims benchmark)."""

PAUSE_READING_BYTES = 262_144
"""A response body buffered beyond this (the caller reads slower than the service writes) stops
reading from the service until the caller catches up."""

_NO_BODY_STATUSES = frozenset({204, 304})


class UpstreamFailure(Exception):
    """No (whole) answer: ``kind`` is ``unreachable``, ``timeout`` or ``broken``; ``cause`` says how."""

    def __init__(self, kind: str, cause: str) -> None:
        super().__init__(f"{kind}: {cause}")
        self.kind = kind
        self.cause = cause


def _expire(waiter: asyncio.Future[None], failure: UpstreamFailure) -> None:
    if not waiter.done():
        waiter.set_exception(failure)


class Connection(asyncio.Protocol):
    """One connection to a service, one exchange at a time; the parser's callbacks fill it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._reading_paused = False
        self.reset(head_only=False)

    def reset(self, *, head_only: bool) -> None:
        """Ready for the next exchange (``head_only``: a HEAD request, whose answer has no body)."""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.head_done = False
        self.complete = False
        self.until_close = False
        self.keep_alive = False
        self.head_only = head_only
        self.error: str | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is one in all but name

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # not HTTP/1.1, or an upgrade the proxy never asks for
            self._fail(f"malformed answer ({type(exc).__name__})")

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and self.until_close:
            self.complete = True  # a body delimited by the end of the connection
        elif not self.complete and self.error is None:
            self.error = f"connection closed ({type(exc).__name__})" if exc else "connection closed"
        self._wake()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True
        framed = any(name in (b"content-length", b"transfer-encoding") for name, _ in self.headers)
        if self.head_only:
            # llhttp cannot know a HEAD's answer has no body: it is whole now, and the connection is not
            # reused (its parser would wait for that body).
            self.complete = True
        elif not framed and self.status not in _NO_BODY_STATUSES:
            self.until_close = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > PAUSE_READING_BYTES and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # read now: the parser resets after this call
        self._wake()

    # the exchange

    def _fail(self, why: str) -> None:
        self.error = why
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def _wait(self, timeout_s: float, what: str) -> None:
        waiter = self.loop.create_future()
        self._waiter = waiter
        timer = self.loop.call_later(timeout_s, _expire, waiter, UpstreamFailure("timeout", what))
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise UpstreamFailure("broken", self.error or "connection closed")
        self.transport.write(data)

    async def drain(self, timeout_s: float) -> None:
        """Wait until the service has taken what was written (flow control of a streamed body)."""
        while self._writing_paused and not self.closed:
            drained = self.loop.create_future()
            self._drained = drained
            timer = self.loop.call_later(timeout_s, _expire, drained, UpstreamFailure("timeout", "write"))
            try:
                await drained
            finally:
                timer.cancel()
                self._drained = None

    async def head(self, timeout_s: float) -> None:
        """Wait for the answer's status line and headers."""
        while not self.head_done:
            if self.error is not None:
                raise UpstreamFailure("broken", self.error)
            await self._wait(timeout_s, "read")

    async def body(self, timeout_s: float) -> AsyncIterator[bytes]:
        """The answer's body as it arrives (transfer coding removed), in as few pieces as it came."""
        while True:
            if self.chunks:
                data = b"".join(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
                self.chunks.clear()
                self.buffered = 0
                if self._reading_paused and self.transport is not None and not self.closed:
                    self._reading_paused = False
                    self.transport.resume_reading()
                yield data
                continue
            if self.complete:
                return
            if self.error is not None:
                raise UpstreamFailure("broken", self.error)
            await self._wait(timeout_s, "read")

    def reusable(self) -> bool:
        return self.keep_alive and not self.closed and not self.head_only

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """The keep-alive connections to one service: at most ``max_connections`` at once, the most
    recently used first, none reused after ``keepalive_s`` idle."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        max_connections: int,
        keepalive_s: float = KEEPALIVE_EXPIRY_S,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"an upstream must be an http:// URL with a host, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_header = parts.netloc.encode("latin-1")
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_connections = max_connections
        self.keepalive_s = keepalive_s
        self._idle: list[tuple[Connection, float]] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def open_connections(self) -> int:
        return self._open

    async def acquire(self, *, head_only: bool = False) -> Connection:
        """A connection ready for one exchange: an idle one, a new one, or the first one released."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            now = loop.time()
            while self._idle:
                connection, since = self._idle.pop()
                if not connection.closed and now - since < self.keepalive_s:
                    connection.reset(head_only=head_only)
                    return connection
                self._discard(connection)
            if self._open < self.max_connections:
                self._open += 1
                try:
                    connection = await self._connect(loop)
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
                connection.reset(head_only=head_only)
                return connection
            if deadline is None:
                deadline = now + self.connect_timeout_s
            waiter = loop.create_future()
            self._waiters.append(waiter)
            timer = loop.call_later(
                max(deadline - now, 0.0), _expire, waiter, UpstreamFailure("unreachable", "no free connection")
            )
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._wake_one()  # woken and cancelled at once: pass the turn on
                raise
            finally:
                timer.cancel()
                self._forget(waiter)

    def release(self, connection: Connection) -> None:
        """Give a connection back after its exchange: kept when it may carry another, else closed."""
        if connection.reusable():
            self._idle.append((connection, asyncio.get_running_loop().time()))
        else:
            connection.close()
            self._open -= 1
        self._wake_one()

    async def aclose(self) -> None:
        for connection, _ in self._idle:
            connection.close()
        self._open -= len(self._idle)
        self._idle.clear()

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> Connection:
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: Connection(loop), self.host, self.port), self.connect_timeout_s
            )
        except TimeoutError:
            raise UpstreamFailure("unreachable", "ConnectTimeout") from None
        except OSError as exc:
            raise UpstreamFailure("unreachable", f"ConnectError ({exc.strerror or type(exc).__name__})") from None
        return protocol

    def _discard(self, connection: Connection) -> None:
        connection.close()
        self._open -= 1

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done() or waiter.cancelled() or waiter.exception() is not None:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
