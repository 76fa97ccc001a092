"""Conditional reads through the gateway, with the three real services in this process: the catalogue and
budgets (proxied: ``If-None-Match`` goes through, the 304 comes back with no body) and the scorecards
(composed at the gateway); and the RateLimit fields on a limited client's answers, 304s included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory
from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app

from .test_scorecards import ADMIN, AS_OF, setup_register

REVALIDATE = "private, no-cache"
PERIOD = {
    "geography": "national",
    "effective_from": "2026-04-01",
    "annual_max_pence": 6_900_000,
    "provenance": "published",
    "source": "Network Contract DES 2026/27, Table 2",
}
TOP_UP_PENCE = 1_234
TOP_UP = {"pot": "arrs", "amount_pence": TOP_UP_PENCE, "reason": "In-year top-up"}


@pytest.fixture
async def gw(gateway_app: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as client:
        yield client
    await gateway_app.aclose()


async def tag_of(gw: httpx.AsyncClient, path: str, params: dict[str, Any], key: dict[str, str] = ADMIN) -> str:
    response = await gw.get(path, params=params, headers=key)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == REVALIDATE
    return response.headers["etag"]


async def again(
    gw: httpx.AsyncClient, path: str, params: dict[str, Any], etag: str, key: dict[str, str] = ADMIN
) -> httpx.Response:
    return await gw.get(path, params=params, headers={**key, "If-None-Match": etag})


def assert_not_modified(response: httpx.Response, etag: str) -> None:
    assert response.status_code == 304, response.text
    assert response.content == b"" and response.headers["etag"] == etag
    assert response.headers["cache-control"] == REVALIDATE
    assert "content-type" not in response.headers


def assert_moved(response: httpx.Response, etag: str) -> str:
    assert response.status_code == 200, response.text
    assert response.content and response.headers["etag"] != etag
    return response.headers["etag"]


async def test_the_catalogue_through_the_gateway(gw: httpx.AsyncClient) -> None:
    reads: list[tuple[str, dict[str, Any]]] = [
        ("/v1/roles/clinical_pharmacist", {}),
        ("/v1/rates", {"on": "2026-04-01", "geography": "national", "limit": 500}),
        ("/v1/roles", {"limit": 500}),
    ]
    tags = {path: await tag_of(gw, path, params) for path, params in reads}
    for path, params in reads:
        assert_not_modified(await again(gw, path, params, tags[path]), tags[path])
    listed = await again(gw, "/v1/roles", {"limit": 500}, tags["/v1/roles"])
    assert listed.headers["vary"] == "Accept"
    added = await gw.post("/v1/roles/clinical_pharmacist/rates", json=PERIOD, headers=ADMIN)
    assert added.status_code == 201, added.text
    for path, params in reads[:2]:
        new = assert_moved(await again(gw, path, params, tags[path]), tags[path])
        assert_not_modified(await again(gw, path, params, new), new)
    assert_not_modified(await again(gw, "/v1/roles", {"limit": 500}, tags["/v1/roles"]), tags["/v1/roles"])
    # CSV and JSON are tagged apart, through the gateway as at the service.
    as_csv = await tag_of(gw, "/v1/roles", {"limit": 500, "format": "csv"})
    assert as_csv != tags["/v1/roles"]
    crossed = await again(gw, "/v1/roles", {"limit": 500, "format": "csv"}, tags["/v1/roles"])
    assert crossed.status_code == 200 and crossed.headers["content-type"].startswith("text/csv")
    by_accept = await gw.get("/v1/roles", params={"limit": 500}, headers={**ADMIN, "Accept": "text/csv"})
    assert by_accept.headers["etag"] == as_csv


async def test_budgets_through_the_gateway(gw: httpx.AsyncClient) -> None:
    keys = await setup_register(gw)
    icb = {"X-API-Key": keys["icb"]}
    reads: list[tuple[str, dict[str, Any]]] = [
        ("/v1/pcns/U00001/budgets/2024-25", {}),
        ("/v1/budgets", {"fy": "2024-25"}),
        ("/v1/budgets", {"fy": "2024-25", "format": "csv"}),
        ("/v1/pcns/U00001/ledger", {"fy": "2024-25"}),
    ]
    tags = [await tag_of(gw, path, params, icb) for path, params in reads]
    assert tags[1] != tags[2]  # JSON and CSV
    for (path, params), etag in zip(reads, tags, strict=True):
        assert_not_modified(await again(gw, path, params, etag, icb), etag)
    posted = await gw.post("/v1/pcns/U00001/budgets/2024-25/allocations", json=TOP_UP, headers=icb)
    assert posted.status_code == 201, posted.text
    for (path, params), etag in zip(reads, tags, strict=True):
        new = assert_moved(await again(gw, path, params, etag, icb), etag)
        assert_not_modified(await again(gw, path, params, new, icb), new)


async def test_scorecards_are_conditional(gw: httpx.AsyncClient) -> None:
    keys = await setup_register(gw)
    card, cards = "/v1/scorecards/U00001", "/v1/scorecards"
    listing = {"icb_code": "QHM", **AS_OF}
    card_tag = await tag_of(gw, card, AS_OF)
    json_tag = await tag_of(gw, cards, listing)
    csv_tag = await tag_of(gw, cards, {**listing, "format": "csv"})
    assert len({card_tag, json_tag, csv_tag}) == 3
    assert_not_modified(await again(gw, card, AS_OF, card_tag), card_tag)
    assert_not_modified(await again(gw, cards, listing, json_tag), json_tag)
    assert_not_modified(await again(gw, cards, {**listing, "format": "csv"}, csv_tag), csv_tag)
    assert (await again(gw, cards, listing, json_tag)).headers["vary"] == "Accept"
    assert (await again(gw, cards, {**listing, "format": "csv"}, json_tag)).status_code == 200
    # Another client in scope is composed its own card, in its scope: the tag follows its bytes.
    admins = await gw.get(card, params=AS_OF, headers=ADMIN)
    own = await gw.get(card, params=AS_OF, headers={"X-API-Key": keys["pcn"]})
    assert own.status_code == 200 and (own.headers["etag"] == card_tag) == (own.content == admins.content)
    # An allocation changes the card and the row: the old tags are answered in full, with new ones.
    assert (await gw.post("/v1/pcns/U00001/budgets/2024-25/allocations", json=TOP_UP, headers=ADMIN)).status_code == 201
    moved = await again(gw, card, AS_OF, card_tag)
    new_card = assert_moved(moved, card_tag)
    assert moved.json()["budget"][0]["allocated_pence"] == 10_000_000 + TOP_UP_PENCE
    assert_not_modified(await again(gw, card, AS_OF, new_card), new_card)
    assert_moved(await again(gw, cards, listing, json_tag), json_tag)
    assert_moved(await again(gw, cards, {**listing, "format": "csv"}, csv_tag), csv_tag)
    # Not found is not conditional.
    missing = await gw.get("/v1/scorecards/U09999", params=AS_OF, headers={**ADMIN, "If-None-Match": "*"})
    assert missing.status_code == 404 and "etag" not in missing.headers


async def test_a_limited_clients_304s_and_429s_state_its_limit(
    service_apps: dict[str, FastAPI], database_factory: DatabaseFactory
) -> None:
    url = database_factory.create("gateway", "sqlite", partial(migrate.upgrade, "gateway"))
    transports = {name: httpx.ASGITransport(app=app) for name, app in service_apps.items()}
    settings = GatewaySettings(database_url=url, rate_limits={"icb": (0.01, 4)})
    app = create_app(settings, transports=transports, configure_logs=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as gw:
            body = {"name": "icb", "kind": "icb", "org_codes": ["QHM"]}
            icb = {"X-API-Key": (await gw.post("/v1/clients", json=body, headers=ADMIN)).json()["api_key"]}
            first = await gw.get("/v1/roles", headers=icb)
            not_modified = await gw.get("/v1/roles", headers={**icb, "If-None-Match": first.headers["etag"]})
            assert_not_modified(not_modified, first.headers["etag"])
            rates = await gw.get("/v1/rates", headers=icb)  # another proxied read
            last = await gw.get("/v1/roles", headers={**icb, "If-None-Match": first.headers["etag"]})
            refused = await gw.get("/v1/roles", headers=icb)
        answers = [first, not_modified, rates, last, refused]
        assert [a.status_code for a in answers] == [200, 304, 200, 304, 429]
        assert {a.headers["ratelimit-policy"] for a in answers} == {'"icb";q=4;w=400'}
        assert [a.headers["ratelimit"].split(";")[1] for a in answers] == ["r=3", "r=2", "r=1", "r=0", "r=0"]
        assert refused.headers["ratelimit"] == f'"icb";r=0;t={refused.headers["retry-after"]}'
    finally:
        await app.aclose()
        database_factory.drop(url)
