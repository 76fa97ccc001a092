"""The gateway in-process in front of stand-ins for the services: an echo of what it forwards, and
upstreams that are down, slow or broken. With the real services behind it: tests/contract."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from arrs_kit.principal import PRINCIPAL_HEADER, Principal, principal_headers, verify_headers
from arrs_kit.settings import DEV_GATEWAY_SECRET
from gateway.config import GatewaySettings
from gateway.main import create_app
from gateway.relay import PooledUpstream
from gateway.upstream import UpstreamFailure

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}
PROBLEM = "application/problem+json"


def echoed_headers(response: httpx.Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in response.json()["headers"]:
        out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer nope"}, {"X-API-Key": ""}])
async def test_no_or_bad_credentials_are_401(echo_gateway: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await echo_gateway.get("/v1/roles", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("ApiKey")
    assert response.json()["type"] == "/problems/unauthenticated"


async def test_forged_principal_headers_are_replaced(echo_gateway: httpx.AsyncClient) -> None:
    forged = principal_headers(Principal("admin", "mallory"), "guess", method="GET", path="/v1/posts")
    assert (await echo_gateway.get("/v1/posts", headers=forged)).status_code == 401
    spoofed = {"Forwarded": "for=evil", "X-Real-IP": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"}
    response = await echo_gateway.get("/v1/posts", headers={**ADMIN_KEY, **forged, **spoofed})
    seen = echoed_headers(response)
    assert "forwarded" not in seen and "x-real-ip" not in seen
    assert seen["x-forwarded-for"] == ["127.0.0.1"]  # the gateway's own view of the client
    assert seen[PRINCIPAL_HEADER] == ["admin;bootstrap-admin;;bootstrap-admin"]
    sent = {name: values[0] for name, values in seen.items()}
    # What reaches the service verifies under the real secret, for this method and path only.
    verified = verify_headers(sent, method="GET", path="/v1/posts", query="", secret=DEV_GATEWAY_SECRET)
    assert verified is not None and verified.principal == Principal("admin", "bootstrap-admin", (), "bootstrap-admin")
    assert verify_headers(sent, method="POST", path="/v1/posts", query="", secret=DEV_GATEWAY_SECRET) is None
    assert "x-api-key" not in seen  # credentials stop at the gateway


async def test_forwards_method_path_query_body_and_request_id(echo_gateway: httpx.AsyncClient) -> None:
    body = b'{"hours_per_week":37.5}'
    response = await echo_gateway.patch(
        "/v1/posts/7",
        params={"a": "1", "b": "x y"},
        content=body,
        headers={**ADMIN_KEY, "X-Request-ID": "req-42", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    echo = response.json()
    assert (echo["method"], echo["path"], echo["query"]) == ("PATCH", "/v1/posts/7", "a=1&b=x+y")
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    seen = echoed_headers(response)
    # The platform makes its own request id; the client's is kept as the correlation id.
    assert seen["x-request-id"] == [response.headers["x-request-id"]] != ["req-42"]
    assert seen["x-correlation-id"] == ["req-42"] == [response.headers["x-correlation-id"]]
    assert response.headers["x-upstream"] == "echo"  # upstream headers pass through
    assert "connection" not in response.headers  # hop-by-hop headers stop at the gateway


async def test_large_bodies_arrive_whole(echo_gateway: httpx.AsyncClient) -> None:
    body = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, above the buffering threshold: streamed

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    # /v1/workload is a bulk endpoint: its bodies may be up to max_bulk_body_bytes.
    streamed = await echo_gateway.post("/v1/workload", content=chunks(), headers=ADMIN_KEY)
    assert streamed.json()["body_bytes"] == len(body)
    assert streamed.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    sized = await echo_gateway.post("/v1/workload", content=body, headers=ADMIN_KEY)
    assert sized.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_bodies_over_the_limit_are_413(echo_gateway: httpx.AsyncClient) -> None:
    big = b"x" * (1_048_576 + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    for content in (big, chunks()):  # with Content-Length, and chunked without one
        response = await echo_gateway.post("/v1/posts", content=content, headers=ADMIN_KEY)
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "/problems/payload-too-large"
    assert (await echo_gateway.post("/v1/posts", content=b"x" * 1_048_576, headers=ADMIN_KEY)).status_code == 200


async def test_unknown_resources_are_404_problems(echo_gateway: httpx.AsyncClient) -> None:
    response = await echo_gateway.get("/v1/nope", headers=ADMIN_KEY)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["instance"] == "/v1/nope"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_upstream_that_is_down_is_503(gateway_settings: Callable[..., GatewaySettings]) -> None:
    settings = gateway_settings(roles_url=f"http://127.0.0.1:{closed_port()}", upstream_connect_timeout_s=1.0)
    app = create_app(settings, configure_logs=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.get("/v1/roles", headers=ADMIN_KEY)
        ready = await client.get("/readyz")
    await app.aclose()
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/upstream-unavailable"
    assert response.headers["retry-after"]
    assert ready.status_code == 503 and "roles" in ready.json()["detail"]


async def test_a_slow_upstream_is_504(gateway_settings: Callable[..., GatewaySettings]) -> None:
    accepted = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # hold the connection until the gateway gives up and closes it
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = gateway_settings(roles_url=f"http://127.0.0.1:{port}", upstream_timeout_s=0.3)
    app = create_app(settings, configure_logs=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            response = await client.get("/v1/roles", headers=ADMIN_KEY)
    finally:
        await app.aclose()
        server.close()
    assert accepted.is_set()
    assert response.status_code == 504
    assert response.json()["type"] == "/problems/upstream-timeout"


async def test_production_refuses_development_secrets() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="ARRS_ADMIN_API_KEY"):
        GatewaySettings(ARRS_ENV="production", ARRS_GATEWAY_SECRET="s" * 40)
    with pytest.raises(ValidationError, match="ARRS_GATEWAY_SECRET"):
        GatewaySettings(ARRS_ENV="production", ARRS_ADMIN_API_KEY="k" * 40)
    with pytest.raises(ValidationError, match="token key dev-1"):
        GatewaySettings(ARRS_ENV="production", ARRS_ADMIN_API_KEY="k" * 40, ARRS_GATEWAY_SECRET="s" * 40)
    ok = GatewaySettings(
        ARRS_ENV="production",
        ARRS_ADMIN_API_KEY="k" * 40,
        ARRS_GATEWAY_SECRET="s" * 40,
        token_keys={"2026-11": "t" * 40},
        token_signing_key_id="2026-11",
    )
    assert ok.env == "production"


async def broken_upstream(body: bytes) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def test_an_upstream_that_breaks_before_its_body_is_502(gateway_settings: Callable[..., GatewaySettings]) -> None:
    server = await broken_upstream(b"")
    port = server.sockets[0].getsockname()[1]
    app = create_app(gateway_settings(roles_url=f"http://127.0.0.1:{port}"), configure_logs=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            response = await client.get("/v1/roles", headers=ADMIN_KEY)
    finally:
        await app.aclose()
        server.close()
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/bad-gateway"


async def test_an_upstream_that_breaks_mid_body_cuts_the_response(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    # Headers are already out: the only honest answer is to abort, never to end the body as if complete.
    # The app raises after the head and the first bytes; an ASGI server then cuts the connection.
    server = await broken_upstream(b'{"partial":')
    port = server.sockets[0].getsockname()[1]
    app = create_app(gateway_settings(roles_url=f"http://127.0.0.1:{port}"), configure_logs=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            with pytest.raises(UpstreamFailure, match="broken"):
                await client.get("/v1/roles", headers=ADMIN_KEY)
    finally:
        await app.aclose()
        server.close()


async def test_upstream_cookies_reach_the_caller_but_are_never_replayed(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    async def cookie_app(scope: Scope, receive: Receive, send: Send) -> None:
        cookie = dict(scope["headers"]).get(b"cookie", b"")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"set-cookie", b"session=upstream-secret; Path=/"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"cookie=" + cookie})

    app = create_app(
        gateway_settings(), transports={"budget": httpx.ASGITransport(app=cookie_app)}, configure_logs=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        first = await client.get("/v1/posts", headers=ADMIN_KEY)
        client.cookies.clear()  # another caller, without the cookie
        second = await client.get("/v1/posts", headers=ADMIN_KEY)
    await app.aclose()
    assert "session=upstream-secret" in first.headers["set-cookie"]
    assert second.text == "cookie="


async def test_idle_upstream_connections_are_dropped_before_a_service_would_close_them(
    gateway_settings: Callable[..., GatewaySettings],
) -> None:
    # A service (uvicorn) closes a connection idle for timeout_keep_alive; a request the gateway sent
    # on it at that moment would be answered 502. The gateway must give such connections up first.
    service_keep_alive_s = uvicorn.Config(app="budget.main:app", factory=True).timeout_keep_alive
    app = create_app(gateway_settings(), configure_logs=False)
    try:
        for upstream in app.upstreams.values():
            assert isinstance(upstream, PooledUpstream)
            assert upstream.pool.keepalive_s < service_keep_alive_s
        for client in app.clients.values():  # readiness and the OpenAPI documents
            pool = client._transport._pool  # type: ignore[attr-defined]  # httpx keeps it there
            assert pool._keepalive_expiry is not None and pool._keepalive_expiry < service_keep_alive_s
    finally:
        await app.aclose()
