"""``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-11) on every answer to a
rate-limited client, from its token bucket, in memory and in Redis; the 429's ``t`` is its Retry-After."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app
from gateway.ratelimit import Buckets, MemoryBuckets, RedisBuckets, Taken, ratelimit_headers, retry_after_header

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}
REDIS_URL = "redis://127.0.0.1:6379/15"
LIMIT = re.compile(r'^"(?P<name>[a-z_]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")


@pytest.fixture
def make_gateway(gateway_settings: Callable[..., GatewaySettings], echo_upstream: ASGIApp) -> Callable[..., Gateway]:
    def make(**overrides: Any) -> Gateway:
        echo = httpx.ASGITransport(app=echo_upstream)
        transports = {"roles": echo, "budget": echo, "evaluation": echo}
        return create_app(gateway_settings(**overrides), transports=transports, configure_logs=False)

    return make


@pytest.fixture(params=["memory", "redis"])
async def gateway(request: pytest.FixtureRequest, make_gateway: Callable[..., Gateway]) -> AsyncIterator[Gateway]:
    """A gateway whose PCN clients may make 3 requests, then one every 100 s."""
    if request.param == "redis":
        redis_or_skip()
    app = make_gateway(
        rate_limits={"pcn": (0.01, 3)}, rate_limit_redis_url=REDIS_URL if request.param == "redis" else None
    )
    yield app
    await app.aclose()


async def pcn_key(gw: httpx.AsyncClient) -> dict[str, str]:
    body = {"name": "limited", "kind": "pcn", "org_codes": ["U12345"]}
    response = await gw.post("/v1/clients", json=body, headers=ADMIN_KEY)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["api_key"]}


def service_limit(response: httpx.Response) -> tuple[int, int]:
    match = LIMIT.match(response.headers["ratelimit"])
    assert match and match["name"] == "pcn", response.headers["ratelimit"]
    return int(match["r"]), int(match["t"])


async def test_every_answer_to_a_limited_client_states_its_limit(gateway: Gateway) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as gw:
        key = await pcn_key(gw)
        answers = [await gw.get("/v1/posts", headers=key) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        # The policy: a bucket of 3 that fills in 300 s; what is left goes 2, 1, 0.
        assert {a.headers["ratelimit-policy"] for a in answers} == {'"pcn";q=3;w=300'}
        assert [service_limit(a)[0] for a in answers] == [2, 1, 0]
        assert all(0 < service_limit(a)[1] <= 100 for a in answers)  # the next token, within 100 s
        # The proxied answer keeps its own headers beside them; each field is sent once.
        assert answers[0].headers["x-upstream"] == "echo"
        assert [k for k, _ in answers[0].headers.multi_items()].count("ratelimit") == 1
        refused = await gw.get("/v1/posts", headers=key)
        assert refused.status_code == 429 and refused.json()["type"] == "/problems/too-many-requests"
        assert refused.headers["ratelimit-policy"] == '"pcn";q=3;w=300'
        r, t = service_limit(refused)
        assert r == 0 and t == int(refused.headers["retry-after"]) and t > 1
        # The gateway's own endpoints, refusals included, carry them too (the bucket is still empty).
        own = await gw.get("/v1/clients", headers=key)
        assert own.status_code == 429 and service_limit(own)[0] == 0
        # An unlimited client (admin) gets none.
        free = await gw.get("/v1/posts", headers=ADMIN_KEY)
        assert free.status_code == 200 and "ratelimit" not in free.headers and "ratelimit-policy" not in free.headers


async def test_a_limited_clients_own_gateway_answers_carry_them(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway(rate_limits={"pcn": (10.0, 30)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as gw:
        key = await pcn_key(gw)
        own = await gw.get("/v1/clients", headers=key)  # a PCN may not list clients: the gateway's own 403
        assert own.status_code == 403
        assert own.headers["ratelimit-policy"] == '"pcn";q=30;w=3'
        assert service_limit(own) == (29, 1)
    await app.aclose()


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_take_answers_what_is_left_and_the_wait(store: str) -> None:
    if store == "redis":
        redis_or_skip()
    buckets: Buckets = (
        RedisBuckets(REDIS_URL, prefix=f"arrs:test:ratelimit:{uuid.uuid4().hex}:")
        if store == "redis"
        else MemoryBuckets()
    )
    try:
        taken = [await buckets.take("client", 0.5, 2) for _ in range(3)]
    finally:
        await buckets.aclose()
    assert [t.wait is None for t in taken] == [True, True, False]
    first, second, refused = taken
    assert first.remaining == pytest.approx(1.0, abs=0.01) and second.remaining == pytest.approx(0.0, abs=0.01)
    assert refused.remaining == pytest.approx(0.0, abs=0.01)
    assert refused.wait is not None and refused.wait == pytest.approx(2.0, abs=0.05)  # half a token a second
    headers = dict(ratelimit_headers("pcn", 0.5, 2, refused))
    assert headers[b"ratelimit-policy"] == b'"pcn";q=2;w=4'
    assert headers[b"ratelimit"] == f'"pcn";r=0;t={retry_after_header(refused.wait)}'.encode()


def test_the_fields_from_a_bucket() -> None:
    # 30 a burst at 10 a second: 12.25 tokens left, the next in 0.075 s (rounded up to a whole second).
    assert ratelimit_headers("icb", 10.0, 30, Taken(None, 12.25)) == [
        (b"ratelimit-policy", b'"icb";q=30;w=3'),
        (b"ratelimit", b'"icb";r=12;t=1'),
    ]
    # Refused with 0.2 tokens at 0.01 a second: 80 s to wait, and the same t.
    refused = Taken(80.0, 0.2)
    assert ratelimit_headers("pcn", 0.01, 2, refused)[1] == (b"ratelimit", b'"pcn";r=0;t=80')
    assert retry_after_header(80.0) == "80"
    # A window is never shorter than a second (the draft's windows are whole seconds).
    assert ratelimit_headers("x", 100.0, 5, Taken(None, 4.0))[0] == (b"ratelimit-policy", b'"x";q=5;w=1')
    # The store could not be asked: the request passed unlimited, and nothing is claimed.
    assert ratelimit_headers("pcn", 10.0, 30, Taken(None, None)) == []
