"""Fixtures of the gateway's tests: a fresh gateway database, and stand-ins for the services (the echo
app, or whatever a test serves). The gateway with the real services behind it is tested in
tests/contract."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory
from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream that answers with what it received: method, path, query, headers, body digest."""
    assert scope["type"] == "http"
    size = 0
    digest = hashlib.sha256()
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        digest.update(chunk)
        if not message.get("more_body", False):
            break
    body = json.dumps(
        {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body_bytes": size,
            "body_sha256": digest.hexdigest(),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"), (b"x-upstream", b"echo")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def echo_upstream() -> ASGIApp:
    """An upstream that answers with what it received."""
    return echo_app


@pytest.fixture
def gateway_db_url(database_factory: DatabaseFactory) -> object:
    url = database_factory.create("gateway", "sqlite", lambda u: migrate.upgrade("gateway", u))
    yield url
    database_factory.drop(url)


@pytest.fixture
def gateway_settings(gateway_db_url: str) -> Callable[..., GatewaySettings]:
    """Settings with a fresh, migrated gateway database; keyword arguments override fields."""

    def make(**overrides: Any) -> GatewaySettings:
        return GatewaySettings(database_url=gateway_db_url, **overrides)

    return make


@asynccontextmanager
async def served(app: ASGIApp, **config: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port in this event loop; yields its base URL.

    The socket listens before the server starts, so a connection made at once waits in its backlog.
    ``X-Forwarded-For`` is not believed: ``scope["client"]`` is the gateway's end of the connection."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", proxy_headers=False, **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(params=["in-process", "network"])
async def echo_gateway_app(
    request: pytest.FixtureRequest, gateway_settings: Callable[..., GatewaySettings]
) -> AsyncIterator[Gateway]:
    """The gateway with the echo app standing in for every service: in-process (an httpx transport)
    and over the network (uvicorn, reached by the gateway's own pool, as in production)."""
    if request.param == "in-process":
        echo = httpx.ASGITransport(app=echo_app)
        app = create_app(
            gateway_settings(), transports={"roles": echo, "budget": echo, "evaluation": echo}, configure_logs=False
        )
        yield app
        await app.aclose()
        return
    async with served(echo_app) as url:
        app = create_app(gateway_settings(roles_url=url, budget_url=url, evaluation_url=url), configure_logs=False)
        yield app
        await app.aclose()


@pytest.fixture
async def echo_gateway(echo_gateway_app: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway with the echo app standing in for every service."""
    transport = httpx.ASGITransport(app=echo_gateway_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
