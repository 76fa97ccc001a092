"""A captured signed principal opens exactly one request, on both databases.

Before the signature covered the query, the body and a nonce, one header set captured between the
gateway and the budget service posted three allocations with three different amounts inside its
60-second window, and ``?x=1`` passed too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.testing import DatabaseFactory, assert_problem, signed_headers
from tests.contract.conftest import make_service

ICB = Principal(kind="icb", client_id="cl_icb", org_codes=("QHM",), name="QHM finance")
PATH = "/v1/pcns/U12345/budgets/2024-25/allocations"


def allocation(amount_pence: int) -> bytes:
    return json.dumps({"pot": "arrs", "amount_pence": amount_pence, "reason": "Agreed top-up"}).encode()


def captured(body: bytes, *, query: str = "", request_id: str = "") -> dict[str, str]:
    """The headers the gateway sent with one allocation, as someone between it and the service saw them."""
    headers = signed_headers(ICB, method="POST", path=PATH, query=query, body=body, request_id=request_id)
    return {**headers, "content-type": "application/json"}


@pytest.fixture
async def budget(database_factory: DatabaseFactory, backend: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    url = database_factory.create("budget", backend, lambda u: migrate.upgrade("budget", u))
    app = make_service("budget", url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://budget") as client:
            admin = Principal(kind="admin", client_id="cl_admin", name="platform")
            for path, body in (
                ("/v1/icbs", {"code": "QHM", "name": "North East"}),
                (
                    "/v1/pcns",
                    {"code": "U12345", "name": "R", "icb_code": "QHM", "practice_codes": ["A81001"], "list_size": 9000},
                ),
            ):
                content = json.dumps(body).encode()
                sent = signed_headers(admin, method="POST", path=path, body=content)
                response = await client.post(
                    path, content=content, headers={**sent, "content-type": "application/json"}
                )
                assert response.status_code == 201, response.text
            yield client, url
    database_factory.drop(url)


def allocations(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT amount_pence FROM posting WHERE kind = 'top_up' ORDER BY id")).all()
    finally:
        engine.dispose()
    return [int(r[0]) for r in rows]


async def test_a_captured_set_opens_no_other_request(budget: tuple[httpx.AsyncClient, str]) -> None:
    client, url = budget
    first = allocation(100_000)
    headers = captured(first)
    # Another body, another query, or the same request again: each is refused, and writes nothing.
    for body, path in ((allocation(999_999), PATH), (allocation(1), PATH), (first, PATH + "?x=1")):
        response = await client.post(path, content=body, headers=headers)
        assert_problem(response, 401, "unauthenticated")
    assert allocations(url) == []
    genuine = await client.post(PATH, content=first, headers=headers)
    assert genuine.status_code == 201, genuine.text
    replay = await client.post(PATH, content=first, headers=headers)
    refusal = assert_problem(replay, 401, "unauthenticated")
    assert "already been used" in refusal["detail"]
    assert allocations(url) == [100_000]


async def test_the_request_id_and_the_actor_are_the_signed_ones(budget: tuple[httpx.AsyncClient, str]) -> None:
    client, url = budget
    body = allocation(5_000)
    headers = captured(body, request_id="gw-req-1")
    swapped = await client.post(PATH, content=body, headers={**headers, "x-request-id": "chosen-by-me"})
    assert_problem(swapped, 401, "unauthenticated")
    stored = await client.post(PATH, content=body, headers={**headers, "x-request-id": "gw-req-1"})
    assert stored.status_code == 201, stored.text
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT request_id, created_by FROM posting WHERE kind = 'top_up'")).one()
    finally:
        engine.dispose()
    # Who changed it is recorded by display name: the client id is a login name at the token endpoint.
    assert tuple(row) == ("gw-req-1", "QHM finance")


async def test_a_large_body_is_checked_as_it_streams(budget: tuple[httpx.AsyncClient, str]) -> None:
    client, url = budget
    padding = b" " * 1_100_000  # over the 1 MiB a service reads before the route: checked while streaming
    body = allocation(7_000)[:-1] + padding + b"}"
    headers = captured(body)
    tampered = body.replace(b"7000", b"9000")

    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65_536):
            yield data[i : i + 65_536]

    response = await client.post(PATH, content=chunks(tampered), headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert allocations(url) == []
    assert hashlib.sha256(body).digest() != hashlib.sha256(tampered).digest()
