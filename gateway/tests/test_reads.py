"""The scorecards' upstream reads over real sockets (:mod:`gateway.reads`, aiohttp): signed exactly as
sent, answers and failures named as the scorecard reports them, connections pooled and closed.

The contract tests compose scorecards from in-process services (httpx's ASGI transport); these run
the path production takes, against an aiohttp server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from arrs_kit.principal import Principal, verify_headers
from arrs_kit.settings import DEV_GATEWAY_SECRET
from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app
from gateway.scorecards import Reader

SECRET = DEV_GATEWAY_SECRET  # the settings' default
CALLER = Principal(kind="icb", client_id="client-7", org_codes=("QWE",), name="An ICB")


@dataclass
class Upstream:
    """What the stand-in service saw, and how it answers."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)
    status: int = 200
    body: bytes = b'{"data": [], "next_cursor": null}'
    release: asyncio.Event = field(default_factory=asyncio.Event)
    stall: bool = False

    async def handle(self, request: web.Request) -> web.Response:
        signed = verify_headers(
            request.headers,
            method=request.method,
            path=request.path,
            query=request.rel_url.raw_query_string,
            secret=SECRET,
        )
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else ("?", 0))
        self.seen.append(
            {
                "path": request.path,
                "query": request.rel_url.raw_query_string,
                "principal": signed.principal if signed else None,
                "request_id": request.headers.get("x-request-id"),
            }
        )
        if self.stall:
            await self.release.wait()
        return web.Response(status=self.status, body=self.body, content_type="application/json")


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    stand_in = Upstream()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", stand_in.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield stand_in, str(server.make_url("")).rstrip("/")
    stand_in.release.set()
    await server.close()


@pytest.fixture
async def gateway(
    upstream: tuple[Upstream, str], gateway_settings: Callable[..., GatewaySettings]
) -> AsyncIterator[Gateway]:
    url = upstream[1]
    app = create_app(
        gateway_settings(roles_url=url, budget_url=url, evaluation_url=url, scorecard_timeout_s=0.5),
        configure_logs=False,
    )
    yield app
    await app.aclose()


async def test_a_read_is_signed_as_sent_and_answers_the_json(gateway: Gateway, upstream: tuple[Upstream, str]) -> None:
    stand_in, _ = upstream
    stand_in.body = orjson.dumps({"data": [{"pcn_code": "U00001"}], "next_cursor": "x"})
    params = {"fy": "2024-25", "cursor": "a+b/c==", "note": "two words & more", "limit": 500}
    answer = await Reader(gateway, CALLER, "req-1").get("budget", "/v1/budgets", params)
    assert answer.ok and answer.body == {"data": [{"pcn_code": "U00001"}], "next_cursor": "x"}
    (seen,) = stand_in.seen
    # The service verified the signature over the raw query it received, and saw the caller.
    assert seen["principal"] == CALLER
    assert seen["request_id"] == "req-1"
    assert seen["query"] == "fy=2024-25&cursor=a%2Bb%2Fc%3D%3D&note=two+words+%26+more&limit=500"


async def test_a_problem_answer_is_named_by_its_type(gateway: Gateway, upstream: tuple[Upstream, str]) -> None:
    stand_in, _ = upstream
    stand_in.status, stand_in.body = 403, b'{"type": "/problems/forbidden", "status": 403}'
    answer = await Reader(gateway, CALLER, "r").get("evaluation", "/v1/evaluations/pcn-summaries")
    assert (answer.status, answer.reason) == (403, "the evaluation service answered 403 (forbidden)")


async def test_an_unreadable_answer_is_502(gateway: Gateway, upstream: tuple[Upstream, str]) -> None:
    upstream[0].body = b"<html>not json"
    answer = await Reader(gateway, CALLER, "r").get("budget", "/v1/budgets")
    assert (answer.status, answer.reason) == (502, "the budget service answered something unreadable")


async def test_a_stalled_service_is_out_of_time(gateway: Gateway, upstream: tuple[Upstream, str]) -> None:
    upstream[0].stall = True
    answer = await Reader(gateway, CALLER, "r").get("budget", "/v1/budgets")
    assert (answer.status, answer.reason) == (0, "the budget service did not answer in time")


async def test_a_closed_port_is_not_reachable(gateway_settings: Callable[..., GatewaySettings]) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
    # Nothing listens on the port now.
    app = create_app(gateway_settings(budget_url=f"http://127.0.0.1:{port}"), configure_logs=False)
    try:
        answer = await Reader(app, CALLER, "r").get("budget", "/v1/budgets")
    finally:
        await app.aclose()
    assert answer.status == 0
    assert answer.reason == "the budget service is not reachable (ClientConnectorError)"


async def test_reads_share_pooled_connections(gateway: Gateway, upstream: tuple[Upstream, str]) -> None:
    stand_in, _ = upstream
    reader = Reader(gateway, CALLER, "r")
    for _ in range(5):
        assert (await reader.get("budget", "/v1/budgets")).ok
    answers = await asyncio.gather(*(reader.get("evaluation", "/v1/x") for _ in range(3)))
    assert all(a.ok for a in answers)
    assert len(stand_in.seen) == 8
    # Sequential reads reuse one connection; three at once need at most three.
    assert len(stand_in.peers) <= 3
    await gateway.aclose()
    assert gateway.pooled._session is None
