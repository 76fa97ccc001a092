"""Whole-body GETs from the services, for the answers the gateway composes (scorecards).

Two ways to make them, behind one call (:class:`Getter`):

- :class:`PooledGetter`: aiohttp, one pooled session for every service. It is what runs: a GET costs
  the gateway about a sixth of the CPU of the same GET through ``httpx.AsyncClient`` (its HTTP/1.1
  parser is C where h11 is Python; measured in ``bench/RESULTS.md``, "Upstream reads"), and a
  scorecard makes up to six.
- :class:`HttpxGetter`: the gateway's ``httpx.AsyncClient`` for that service, used when the gateway
  is built with an injected transport (the tests' in-process services).

The caller signs what is sent: :meth:`Getter.get` takes the path, the raw query string exactly as it
goes on the wire, and the headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
import yarl
from opentelemetry.trace import SpanKind

from arrs_kit.tracing import Tracing, trace_headers
from gateway.upstream import KEEPALIVE_EXPIRY_S


@dataclass(frozen=True, slots=True)
class Got:
    status: int
    content: bytes


class NotReachable(Exception):
    """No answer came: the connection failed or broke. ``kind`` names the failure."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Getter(Protocol):
    async def get(self, path: str, query: str, headers: Sequence[tuple[str, str]]) -> Got:
        """The status and whole body of one GET; raises :class:`NotReachable` when nothing came back."""
        ...


class HttpxGetter:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, path: str, query: str, headers: Sequence[tuple[str, str]]) -> Got:
        url = httpx.URL(path, query=query.encode("ascii"))
        try:
            response = await self.client.get(url, headers=list(headers))
        except httpx.TimeoutException as exc:
            raise TimeoutError from exc
        except httpx.HTTPError as exc:
            raise NotReachable(type(exc).__name__) from exc
        return Got(response.status_code, response.content)


class PooledGetter:
    """One aiohttp session for every service, opened on first use (it belongs to the running loop).

    Idle connections are dropped after :data:`gateway.upstream.KEEPALIVE_EXPIRY_S`, well inside the
    services' own keep-alive, as the proxy's are; no cookies are kept; redirects are not followed."""

    def __init__(
        self, *, max_connections_per_service: int, connect_timeout_s: float, tracing: Tracing | None = None
    ) -> None:
        self.tracing = tracing
        self._limit = max_connections_per_service
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._opening = asyncio.Lock()

    def for_service(self, base_url: str) -> ServiceGetter:
        return ServiceGetter(self, base_url.rstrip("/"))

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            async with self._opening:
                if self._session is None:
                    connector = aiohttp.TCPConnector(
                        limit=0, limit_per_host=self._limit, keepalive_timeout=KEEPALIVE_EXPIRY_S
                    )
                    self._session = aiohttp.ClientSession(
                        connector=connector,
                        timeout=self._timeout,
                        cookie_jar=aiohttp.DummyCookieJar(),
                        auto_decompress=False,
                        skip_auto_headers=("User-Agent",),
                    )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class ServiceGetter:
    def __init__(self, pool: PooledGetter, base_url: str) -> None:
        self.pool = pool
        self.base_url = base_url

    async def get(self, path: str, query: str, headers: Sequence[tuple[str, str]]) -> Got:
        # encoded=True: the query goes out byte for byte as signed, not re-quoted by yarl.
        url = yarl.URL(f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}", encoded=True)
        session = await self.pool.session()
        tracing = self.pool.tracing
        if tracing is not None:
            with tracing.tracer.start_as_current_span(
                "GET", kind=SpanKind.CLIENT, attributes={"http.request.method": "GET", "url.path": path}
            ) as span:
                got = await self._get(session, url, [*headers, *trace_headers()])
                span.set_attribute("http.response.status_code", got.status)
                return got
        return await self._get(session, url, list(headers))

    async def _get(self, session: aiohttp.ClientSession, url: yarl.URL, headers: list[tuple[str, str]]) -> Got:
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                return Got(response.status, await response.read())
        except TimeoutError:  # aiohttp's connect timeouts are both kinds: they are timeouts here
            raise
        except aiohttp.ClientError as exc:
            raise NotReachable(type(exc).__name__) from exc
