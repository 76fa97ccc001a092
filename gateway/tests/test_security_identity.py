"""Credentials under attack, on both databases: nobody can lock a genuine client out, the admin key
cannot be guessed without limit, only configured proxies are believed about the client's address,
and refused requests are audited with who sent them.

Before: failures were counted per client id before the secret was checked, so ten wrong secrets
from anywhere gave the genuine client 429 for a minute; admin-key failures were not counted at all;
a 413 was audited without its client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.types import ASGIApp

from arrs_kit import migrate
from arrs_kit.testing import BACKENDS, DatabaseFactory
from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ATTACKER = ("203.0.113.66", 40000)
GENUINE = ("198.51.100.10", 40000)


@pytest.fixture(params=BACKENDS)
def make_gateway(
    request: pytest.FixtureRequest, database_factory: DatabaseFactory, echo_upstream: ASGIApp
) -> Iterator[Callable[..., Gateway]]:
    url = database_factory.create("gateway", request.param, lambda u: migrate.upgrade("gateway", u))

    def make(**overrides: Any) -> Gateway:
        echo = httpx.ASGITransport(app=echo_upstream)
        return create_app(
            GatewaySettings(database_url=url, **overrides),
            transports={"roles": echo, "budget": echo, "evaluation": echo},
            configure_logs=False,
        )

    yield make
    database_factory.drop(url)


def client_from(app: Gateway, address: tuple[str, int]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address), base_url="http://gateway")


async def new_client(gw: httpx.AsyncClient, kind: str, orgs: list[str], name: str) -> dict[str, Any]:
    response = await gw.post("/v1/clients", json={"name": name, "kind": kind, "org_codes": orgs}, headers=ADMIN_KEY)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def token(gw: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return await gw.post("/v1/oauth/token", data=form, headers=FORM)


async def test_wrong_secrets_from_elsewhere_do_not_lock_the_client_out(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway()
    async with client_from(app, GENUINE) as genuine, client_from(app, ATTACKER) as attacker:
        pcn = await new_client(genuine, "pcn", ["U12345"], "Riverside PCN manager")
        wrong_key = pcn["api_key"][:-4] + "AAAA"
        for _ in range(12):
            await token(attacker, pcn["id"], "wrong")
            await attacker.get("/v1/posts", headers={"X-API-Key": wrong_key})
        # The attacker's address is throttled, even with the right secret...
        assert (await token(attacker, pcn["id"], pcn["client_secret"])).status_code == 429
        assert (await attacker.get("/v1/posts", headers={"X-API-Key": pcn["api_key"]})).status_code == 429
        # ...the genuine client, elsewhere, is not.
        assert (await token(genuine, pcn["id"], pcn["client_secret"])).status_code == 200
        assert (await genuine.get("/v1/posts", headers={"X-API-Key": pcn["api_key"]})).status_code == 200
    await app.aclose()


async def test_admin_key_guesses_are_throttled_per_source(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway(auth_failures_per_source=5)
    async with client_from(app, GENUINE) as genuine, client_from(app, ATTACKER) as attacker:
        statuses = [
            (await attacker.get("/v1/roles", headers={"X-API-Key": f"guess-{i}"})).status_code for i in range(7)
        ]
        assert statuses == [401] * 5 + [429] * 2
        refused = await attacker.get("/v1/roles", headers=ADMIN_KEY)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        bearer = [(await attacker.get("/v1/roles", headers={"Authorization": "Bearer x.y.z"})).status_code]
        assert bearer == [429]
        assert (await genuine.get("/v1/roles", headers=ADMIN_KEY)).status_code == 200
    await app.aclose()


def test_production_refuses_short_keys_and_secrets() -> None:
    good: dict[str, Any] = {
        "ARRS_ENV": "production",
        "ARRS_GATEWAY_SECRET": "g" * 32,
        "token_keys": {"k1": "t" * 32},
        "token_signing_key_id": "k1",
    }
    with pytest.raises(ValidationError, match="ARRS_ADMIN_API_KEY must be at least 32"):
        GatewaySettings(**good, ARRS_ADMIN_API_KEY="x")
    with pytest.raises(ValidationError, match="ARRS_ADMIN_API_KEY must be at least 32"):
        GatewaySettings(**good, ARRS_ADMIN_API_KEY="a" * 31)
    assert GatewaySettings(**good, ARRS_ADMIN_API_KEY="a" * 32).env == "production"
    with pytest.raises(ValidationError, match="shorter than 32"):
        GatewaySettings(**{**good, "token_keys": {"k1": "short"}}, ARRS_ADMIN_API_KEY="a" * 32)
    with pytest.raises(ValidationError, match="at least 32"):
        GatewaySettings(**{**good, "ARRS_GATEWAY_SECRET": "s" * 31}, ARRS_ADMIN_API_KEY="a" * 32)


async def test_forwarded_for_is_believed_only_from_configured_proxies(make_gateway: Callable[..., Gateway]) -> None:
    def seen_address(response: httpx.Response) -> list[str]:
        return [v for k, v in response.json()["headers"] if k == "x-forwarded-for"]

    plain = make_gateway()
    async with client_from(plain, ("127.0.0.1", 5000)) as local:
        spoofed = await local.get("/v1/posts", headers={**ADMIN_KEY, "X-Forwarded-For": "10.9.9.9"})
        assert seen_address(spoofed) == ["127.0.0.1"]
    await plain.aclose()
    behind = make_gateway(trusted_proxies=["10.0.0.0/8"])
    async with client_from(behind, ("10.1.2.3", 5000)) as proxy, client_from(behind, ATTACKER) as direct:
        # The proxy's own hop and any trusted hops are skipped: the nearest untrusted address counts.
        via = await proxy.get("/v1/posts", headers={**ADMIN_KEY, "X-Forwarded-For": "192.0.2.1, 203.0.113.9, 10.4.4.4"})
        assert seen_address(via) == ["203.0.113.9"]
        forged = await direct.get("/v1/posts", headers={**ADMIN_KEY, "X-Forwarded-For": "10.1.2.3"})
        assert seen_address(forged) == [ATTACKER[0]]
        # The audit log records the same trusted address for a state change.
        for client, chain in ((proxy, "192.0.2.1, 203.0.113.9, 10.4.4.4"), (direct, "10.1.2.3")):
            await client.post("/v1/posts", json={}, headers={**ADMIN_KEY, "X-Forwarded-For": chain})
        events = (await proxy.get("/v1/audit-events", headers=ADMIN_KEY)).json()["data"]
        assert [e["source_ip"] for e in events if e["path"] == "/v1/posts"] == [ATTACKER[0], "203.0.113.9"]
    await behind.aclose()
    with pytest.raises(ValidationError):
        GatewaySettings(trusted_proxies=["not-an-address"])


async def test_refused_bodies_are_audited_with_their_client(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway()
    async with client_from(app, GENUINE) as gw:
        pcn = await new_client(gw, "pcn", ["U12345"], "Riverside PCN manager")
        big = await gw.post("/v1/posts", content=b"x" * (1_048_576 + 1), headers={"X-API-Key": pcn["api_key"]})
        assert big.status_code == 413
        events = (await gw.get("/v1/audit-events", params={"client_id": pcn["id"]}, headers=ADMIN_KEY)).json()
        assert [(e["status"], e["client_id"], e["kind"]) for e in events["data"]] == [(413, pcn["id"], "pcn")]
    await app.aclose()


async def test_services_are_told_the_display_name_not_only_the_id(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway()
    async with client_from(app, GENUINE) as gw:
        icb = await new_client(gw, "icb", ["QHM"], "QHM finance; team")
        response = await gw.get("/v1/posts", headers={"X-API-Key": icb["api_key"]})
        principal = next(v for k, v in response.json()["headers"] if k == "x-arrs-principal")
        assert principal == f"icb;{icb['id']};QHM;QHM%20finance%3B%20team"
    await app.aclose()
