"""Signed requests at a service: the middleware in front of an app, and the nonce stores (in memory,
and in a real Redis shared by replicas)."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Annotated, Any

import httpx
import pytest
import redis
from fastapi import APIRouter, Depends, FastAPI
from pydantic import ValidationError

from arrs_kit.app import create_service_app
from arrs_kit.principal import Principal, PrincipalDep, kinds_allowed, principal_headers, verify_headers
from arrs_kit.settings import DEV_GATEWAY_SECRET, ServiceSettings
from arrs_kit.signed import MemoryNonces, RedisNonces
from arrs_kit.testing import assert_problem, signed_headers

REDIS_URL = "redis://127.0.0.1:6379/14"


def redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")


async def test_memory_nonces_are_used_once_and_forgotten_when_stale() -> None:
    nonces = MemoryNonces()
    now = time.time()
    for n in range(3):  # requests whose signatures are no longer fresh...
        assert await nonces.first_use(f"{n:032x}", now - 1)
    assert await nonces.first_use("a" * 32, now + 60)
    assert not await nonces.first_use("a" * 32, now + 60)  # used once
    assert len(nonces) == 1  # ...are forgotten as new ones come: the store holds one window at most


async def test_redis_nonces_are_shared_by_every_replica() -> None:
    redis_or_skip()
    one, two = RedisNonces(REDIS_URL), RedisNonces(REDIS_URL)
    nonce = uuid.uuid4().hex
    try:
        assert await one.first_use(nonce, time.time() + 60)
        assert not await two.first_use(nonce, time.time() + 60)  # the other replica refuses it too
    finally:
        await one.aclose()
        await two.aclose()


def app_with(nonce_redis_url: str | None, kinds: frozenset[str] | None = None, **platform: Any) -> FastAPI:
    settings = ServiceSettings(database_url="sqlite://", ARRS_NONCE_REDIS_URL=nonce_redis_url, **platform)
    router = APIRouter()

    @router.get("/v1/whoami")
    def whoami(principal: PrincipalDep) -> dict[str, str]:
        return {"client_id": principal.client_id}

    @router.get("/v1/teas")
    def teas(principal: Annotated[Principal, Depends(kinds_allowed({"tea_maker"}, "Tea makers only."))]) -> str:
        return principal.kind

    return create_service_app(
        name="t",
        title="t",
        description="t",
        version="1",
        settings=settings,
        routers=[router],
        configure_logs=False,
        principal_kinds=kinds,
    )


async def test_a_service_knows_its_own_kinds_and_who_may_do_what() -> None:
    app = app_with(None, frozenset({"tea_maker", "tea_drinker"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

        async def get(path: str, kind: str) -> httpx.Response:
            who = Principal(kind=kind, client_id="c1")
            return await client.get(path, headers=signed_headers(who, method="GET", path=path))

        assert (await get("/v1/teas", "tea_maker")).json() == "tea_maker"
        assert_problem(await get("/v1/teas", "tea_drinker"), 403, "forbidden")
        assert_problem(await get("/v1/whoami", "admin"), 401, "unauthenticated")  # a kind it does not know


async def test_a_service_with_an_unreachable_nonce_store_refuses_signed_requests() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = app_with(f"redis://127.0.0.1:{port}/0")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        headers = signed_headers(method="GET", path="/v1/whoami", secret=DEV_GATEWAY_SECRET)
        assert_problem(await client.get("/v1/whoami", headers=headers), 503, "service-unavailable")
        assert (await client.get("/healthz")).status_code == 200  # unsigned requests need no store


async def test_a_service_with_a_shared_store_answers_once() -> None:
    redis_or_skip()
    first, second = app_with(REDIS_URL), app_with(REDIS_URL)
    headers = signed_headers(method="GET", path="/v1/whoami", secret=DEV_GATEWAY_SECRET)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://t") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://t") as b,
    ):
        assert (await a.get("/v1/whoami", headers=headers)).json() == {"client_id": "test-admin"}
        assert_problem(await b.get("/v1/whoami", headers=headers), 401, "unauthenticated")


# --- rotating the shared secret ---------------------------------------------------------------------

OLD, NEW = "o" * 40, "n" * 40


def test_a_signature_verifies_under_the_secret_or_one_of_the_others_accepted() -> None:
    sent = principal_headers(Principal(kind="admin", client_id="c1"), OLD, method="GET", path="/", now=5)

    def verifies(secret: str, *others: str) -> bool:
        request = verify_headers(sent, method="GET", path="/", query="", secret=secret, now=5, other_secrets=others)
        return request is not None

    assert verifies(OLD) and verifies(NEW, OLD) and verifies(NEW, "x" * 40, OLD)
    assert not verifies(NEW) and not verifies(NEW, "x" * 40)


async def test_a_service_accepts_an_old_secret_while_it_is_listed_and_refuses_it_after() -> None:
    during = app_with(None, ARRS_GATEWAY_SECRET=NEW, ARRS_GATEWAY_SECRETS_ACCEPTED=[OLD])
    after = app_with(None, ARRS_GATEWAY_SECRET=NEW)
    for app, old_works in ((during, True), (after, False)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            for secret, works in ((OLD, old_works), (NEW, True), ("x" * 40, False)):
                response = await client.get(
                    "/v1/whoami", headers=signed_headers(method="GET", path="/v1/whoami", secret=secret)
                )
                if works:
                    assert response.json() == {"client_id": "test-admin"}, secret
                else:
                    assert_problem(response, 401, "unauthenticated")


def test_accepted_secrets_are_read_from_the_environment_and_checked_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARRS_GATEWAY_SECRETS_ACCEPTED", f'["{OLD}", "{NEW}"]')
    settings = ServiceSettings()
    assert [s.get_secret_value() for s in settings.gateway_secrets_accepted] == [OLD, NEW]
    assert OLD not in repr(settings)
    monkeypatch.delenv("ARRS_GATEWAY_SECRETS_ACCEPTED")
    assert ServiceSettings().gateway_secrets_accepted == []
    production: dict[str, Any] = {"ARRS_ENV": "production", "ARRS_GATEWAY_SECRET": NEW}
    assert ServiceSettings(**production, ARRS_GATEWAY_SECRETS_ACCEPTED=[OLD]).env == "production"
    for weak in ("short", DEV_GATEWAY_SECRET):
        with pytest.raises(ValidationError, match="ARRS_GATEWAY_SECRETS_ACCEPTED"):
            ServiceSettings(**production, ARRS_GATEWAY_SECRETS_ACCEPTED=[OLD, weak])
