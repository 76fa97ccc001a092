"""The gateway's own pool of upstream connections (:mod:`gateway.upstream`), on real sockets: what
the proxy keeps of HTTP/1.1 — keep-alive, framing of every kind, HEAD, 304, the pool's limit, and a
service that misbehaves."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app
from gateway.relay import PooledUpstream
from gateway.upstream import UpstreamFailure

from .conftest import ADMIN_KEY, served

PROBLEM = "application/problem+json"


class Service:
    """An ASGI service that records the client port of every request (one per connection)."""

    def __init__(self) -> None:
        self.peers: list[int] = []
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.peers.append(scope["client"][1])
        self.arrived.set()
        while (await receive()).get("more_body", False):
            pass
        path = scope["path"]
        if path == "/v1/posts/slow":
            await self.release.wait()
        if path == "/v1/posts/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]})
            for row in (b"a,b\n", b"1,2\n", b"3,4\n"):
                await send({"type": "http.response.body", "body": row, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/v1/posts/unchanged":
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"x"')]})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b'{"method": "' + scope["method"].encode() + b'"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def gateway_to(url: str, settings: Callable[..., GatewaySettings], **overrides: object) -> AsyncIterator[Gateway]:
    app = create_app(settings(roles_url=url, budget_url=url, evaluation_url=url, **overrides), configure_logs=False)
    try:
        yield app
    finally:
        await app.aclose()


def caller(app: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=ADMIN_KEY)


async def get_twice(app: Gateway) -> tuple[httpx.Response, httpx.Response]:
    async with caller(app) as client:
        return await client.get("/v1/posts"), await client.get("/v1/posts")


def pool_of(app: Gateway) -> PooledUpstream:
    upstream = app.upstreams["budget"]
    assert isinstance(upstream, PooledUpstream)
    return upstream


async def test_one_connection_carries_every_request_in_turn(gateway_settings: Callable[..., GatewaySettings]) -> None:
    service = Service()
    async with served(service) as url, gateway_to(url, gateway_settings) as app, caller(app) as client:
        for method in ("GET", "POST", "PUT", "GET", "DELETE"):
            response = await client.request(method, "/v1/posts", content=b"{}" if method != "GET" else None)
            assert response.status_code == 200
            assert response.json() == {"method": method}
        streamed = await client.get("/v1/posts/stream")  # chunked by the service
        unchanged = await client.get("/v1/posts/unchanged")  # 304: no body, the connection kept
        after = await client.get("/v1/posts")
    assert streamed.status_code == 200 and streamed.text == "a,b\n1,2\n3,4\n"
    assert "transfer-encoding" not in streamed.headers or streamed.headers["transfer-encoding"] == "chunked"
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == '"x"'
    assert after.json() == {"method": "GET"}
    assert len(service.peers) == 8 and len(set(service.peers)) == 1
    assert pool_of(app).pool.open_connections == 0  # closed with the gateway


async def test_a_head_answer_has_no_body_and_its_connection_is_not_reused(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    service = Service()
    async with served(service) as url, gateway_to(url, gateway_settings) as app, caller(app) as client:
        head = await client.head("/v1/posts")
        get = await client.get("/v1/posts")
    assert head.status_code == 200 and head.content == b""
    assert get.json() == {"method": "GET"}
    assert len(set(service.peers)) == 2


async def test_a_full_pool_makes_a_request_wait_then_refuses_it_after_the_connect_timeout(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    service = Service()
    overrides = {"upstream_max_connections": 1, "upstream_connect_timeout_s": 0.2}
    async with served(service) as url, gateway_to(url, gateway_settings, **overrides) as app, caller(app) as client:
        slow = asyncio.create_task(client.get("/v1/posts/slow"))
        await service.arrived.wait()  # the slow request holds the only connection
        refused = await client.get("/v1/posts")
        waiting = asyncio.create_task(client.get("/v1/posts"))
        service.release.set()
        first, queued = await slow, await waiting
    assert refused.status_code == 503 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "/problems/upstream-unavailable"
    assert first.status_code == 200 and queued.status_code == 200
    assert len(set(service.peers)) == 1  # the queued request took the released connection


@asynccontextmanager
async def raw_service(answer: bytes, *, then_close: bool = True) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP service that reads one request head and writes ``answer`` as given; counts connections."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
                await writer.drain()
                if then_close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", connections
    finally:
        server.close()


async def test_a_body_delimited_by_the_end_of_the_connection_arrives_whole(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    body = b"x" * 100_000
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n" + body
    async with raw_service(answer) as (url, connections), gateway_to(url, gateway_settings) as app:
        first, second = await get_twice(app)
    assert first.status_code == 200 and first.content == body
    assert second.content == body
    assert len(connections) == 2  # never reused: the service closed it


async def test_a_service_that_does_not_speak_http_is_502(gateway_settings: Callable[..., GatewaySettings]) -> None:
    async with raw_service(b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as (url, _), gateway_to(url, gateway_settings) as app:
        response, _ = await get_twice(app)
    assert response.status_code == 502
    assert response.json()["type"] == "/problems/bad-gateway"


async def test_a_service_that_stalls_mid_body_is_cut_after_the_read_timeout(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\nhalf"
    async with (
        raw_service(answer, then_close=False) as (url, _),
        gateway_to(url, gateway_settings, upstream_timeout_s=0.2) as app,
    ):
        with pytest.raises(UpstreamFailure, match="timeout"):
            await get_twice(app)


async def test_a_stalled_service_before_its_head_is_504_and_the_bulk_timeout_is_longer(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    async with raw_service(b"", then_close=False) as (url, _):
        overrides = {"upstream_timeout_s": 0.1, "bulk_upstream_timeout_s": 0.4}
        async with gateway_to(url, gateway_settings, **overrides) as app, caller(app) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            response = await client.get("/v1/posts")
            ordinary_s = loop.time() - started
            started = loop.time()
            bulk = await client.post("/v1/workload", content=b"a,b\n", headers={"content-type": "text/csv"})
            bulk_s = loop.time() - started
    assert response.status_code == 504 and bulk.status_code == 504
    assert response.json()["type"] == "/problems/upstream-timeout"
    assert bulk_s > ordinary_s and bulk_s >= 0.4


async def test_a_large_body_is_streamed_with_its_length_and_hashed_as_sent(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    received: list[tuple[dict[bytes, bytes], bytes]] = []

    async def sink(scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        received.append((dict(scope["headers"]), b"".join(chunks)))
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    body = hashlib.sha256(b"seed").digest() * 200_000  # 6.4 MB: spooled, far above the socket's buffers
    async with served(sink) as url, gateway_to(url, gateway_settings) as app, caller(app) as client:
        response = await client.post("/v1/workload", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 201
    headers, got = received[0]
    assert headers[b"content-length"] == str(len(body)).encode() and b"transfer-encoding" not in headers
    assert got == body
