"""The public edge against a hostile client with a valid key: header floods, dot segments, what is
forwarded upstream, WebSocket upgrades.

Each test here failed on the gateway before the edge checks existed (a 100,000-header request froze
the event loop; ``/v1/roles/../../docs`` reached a service's Swagger page; every client header and
httpx's own defaults were forwarded)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.types import Message

from gateway.edge import has_dot_segment, header_limits
from gateway.main import Gateway

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}
PROBLEM = "application/problem+json"


async def call_raw(
    app: Callable[..., Awaitable[None]],
    method: str,
    raw_path: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    scope_type: str = "http",
    extensions: dict[str, Any] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send one request to an ASGI app exactly as written (no client normalises the path)."""
    from urllib.parse import unquote

    path, _, query = raw_path.partition(b"?")
    scope = {
        "type": scope_type,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("gateway", 80),
        "extensions": extensions or {},
    }
    sent: list[Message] = []
    connected = False

    async def receive() -> Message:
        nonlocal connected
        if scope_type == "websocket":
            if not connected:
                connected = True
                return {"type": "websocket.connect"}
            return {"type": "websocket.disconnect", "code": 1000}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"].endswith("response.start"))
    body = b"".join(m.get("body", b"") for m in sent if m["type"].endswith("response.body"))
    return start["status"], dict(start["headers"]), body


def test_header_limits_count_and_size() -> None:
    few = [(b"x-a", b"1")] * 100
    assert header_limits(few, 100, 16_384) is None
    assert "at most 100 header fields" in (header_limits([*few, (b"x-b", b"2")], 100, 16_384) or "")
    assert "16384 bytes" in (header_limits([(b"x-big", b"v" * 1_000_000)], 100, 16_384) or "")


async def test_too_many_or_too_large_headers_are_431_before_any_work(echo_gateway: httpx.AsyncClient) -> None:
    many = [(f"x-h{i}", "1") for i in range(101)]
    for headers in (many, [("x-big", "v" * 1_048_576)]):
        response = await echo_gateway.get("/v1/posts", headers=[*ADMIN_KEY.items(), *headers])
        assert response.status_code == 431
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "/problems/request-header-fields-too-large"
        assert response.json()["request_id"] == response.headers["x-request-id"]
    # The gateway's own endpoints are behind the same door.
    flooded = await echo_gateway.get("/healthz", headers=many)
    assert flooded.status_code == 431
    ordinary = await echo_gateway.get("/v1/posts", headers=[*ADMIN_KEY.items(), *many[:90]])
    assert ordinary.status_code == 200


async def test_only_what_services_need_is_forwarded(echo_gateway: httpx.AsyncClient) -> None:
    sent = {
        **ADMIN_KEY,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "If-Match": '"v1"',
        "Idempotency-Key": "k-1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "Cookie": "session=abc",
        "User-Agent": "curl/8",
        "Accept-Encoding": "gzip",
        "X-Custom": "anything",
        "X-Forwarded-Host": "evil.example",
    }
    response = await echo_gateway.post("/v1/posts", content=b"{}", headers=sent)
    seen = {k for k, _ in response.json()["headers"]}
    assert {"content-type", "accept", "if-match", "idempotency-key", "traceparent"} <= seen
    for name in ("cookie", "user-agent", "accept-encoding", "x-custom", "x-forwarded-host", "x-api-key"):
        assert name not in seen, name


async def test_httpx_adds_no_defaults_of_its_own(echo_gateway_app: Gateway) -> None:
    status, _, body = await call_raw(echo_gateway_app, "GET", b"/v1/posts", [(b"x-api-key", b"dev-admin-key")])
    assert status == 200
    seen = {k for k, _ in json.loads(body)["headers"]}
    assert not {"user-agent", "accept", "accept-encoding", "connection"} & seen, seen


async def test_headers_named_in_connection_are_not_forwarded(echo_gateway: httpx.AsyncClient) -> None:
    response = await echo_gateway.get(
        "/v1/posts", headers={**ADMIN_KEY, "Connection": "keep-alive, If-Match", "If-Match": '"v1"', "Accept": "a/b"}
    )
    seen = {k for k, _ in response.json()["headers"]}
    assert "if-match" not in seen and "connection" not in seen
    assert "accept" in seen


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/v1/roles/../../docs",
        b"/v1/claims/../../openapi.json",
        b"/v1/pcns/../../readyz",
        b"/v1/roles/%2e%2e/%2e%2e/docs",
        b"/v1/roles/%2E%2e/%2e%2E/docs",
        b"/v1/roles/.%2e/.%2e/docs",
        b"/v1/roles/%252e%252e/%252e%252e/docs",
        b"/v1/roles/./x",
        b"/v1/roles/..",
    ],
)
async def test_dot_segments_are_refused_before_routing(echo_gateway_app: Gateway, raw_path: bytes) -> None:
    status, headers, body = await call_raw(echo_gateway_app, "GET", raw_path, [(b"x-api-key", b"dev-admin-key")])
    assert status == 400, body
    assert headers[b"content-type"] == PROBLEM.encode()
    assert json.loads(body)["type"] == "/problems/invalid-path"


async def test_paths_with_dots_inside_segments_still_route(echo_gateway_app: Gateway) -> None:
    status, _, body = await call_raw(
        echo_gateway_app, "GET", b"/v1/posts/a..b/.hidden/x.y", [(b"x-api-key", b"dev-admin-key")]
    )
    assert status == 200
    assert json.loads(body)["path"] == "/v1/posts/a..b/.hidden/x.y"


def test_dot_segment_detection() -> None:
    for path in ("/v1/roles/../docs", "/v1/%2e%2e", "/v1/%252E%252E/x", "/v1/./a"):
        assert has_dot_segment(path), path
    for path in ("/v1/roles", "/v1/a..b", "/v1/.well-known", "/v1/x.y/z", "/v1/..."):
        assert not has_dot_segment(path), path


async def test_websocket_upgrades_get_a_problem(echo_gateway_app: Gateway) -> None:
    status, headers, body = await call_raw(
        echo_gateway_app,
        "GET",
        b"/v1/roles",
        [(b"x-api-key", b"dev-admin-key")],
        scope_type="websocket",
        extensions={"websocket.http.response": {}},
    )
    assert status == 404
    assert headers[b"content-type"] == PROBLEM.encode()
    assert json.loads(body)["type"] == "/problems/websocket-not-supported"
