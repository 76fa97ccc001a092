"""Conditional reads of budgets, on SQLite and PostgreSQL: a PCN's budget for a year, every PCN's budget
for a year and a PCN's ledger answer an ETag of their bytes and ``Cache-Control: private, no-cache``; the
tag sent back is 304 with no body until a posting moves the money, then 200 with a new tag."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arrs_kit.etag import REVALIDATE

FY = "2024-25"
BUDGET = f"/v1/pcns/U00001/budgets/{FY}"
ALLOCATIONS = f"{BUDGET}/allocations"
LEDGER = "/v1/pcns/U00001/ledger"
BUDGETS = "/v1/budgets"
READS: list[tuple[str, dict[str, Any]]] = [(BUDGET, {}), (BUDGETS, {"fy": FY}), (LEDGER, {"fy": FY})]

pytestmark = pytest.mark.usefixtures("ledger_verified")


@pytest.fixture
async def allocated(register: None, admin: httpx.AsyncClient) -> None:
    """U00001's 2024-25 budget allocated from a weighted population (as in ``test_budgets``)."""
    body = {"weighted_population": "10000.5", "reference_date": f"{FY[:4]}-01-01"}
    response = await admin.put(f"/v1/pcns/U00001/weighted-populations/{FY}", json=body)
    assert response.status_code == 200, response.text
    assert (await admin.post(f"{BUDGET}/allocate")).status_code == 201


async def read(client: httpx.AsyncClient, path: str, params: dict[str, Any], etag: str | None = None) -> httpx.Response:
    return await client.get(path, params=params, headers={"If-None-Match": etag} if etag else {})


async def tagged(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> str:
    response = await read(client, path, params)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == REVALIDATE
    assert response.headers.get("vary") == (None if path == BUDGET else "Accept")
    return response.headers["etag"]


async def assert_not_modified(client: httpx.AsyncClient, path: str, params: dict[str, Any], etag: str) -> None:
    response = await read(client, path, params, etag)
    assert response.status_code == 304, (path, response.text)
    assert response.content == b"" and response.headers["etag"] == etag
    assert response.headers["cache-control"] == REVALIDATE


async def top_up(client: httpx.AsyncClient, pence: int) -> None:
    body = {"pot": "arrs", "amount_pence": pence, "reason": "In-year top-up"}
    response = await client.post(ALLOCATIONS, json=body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("path", "params"), READS, ids=["budget", "budgets", "ledger"])
async def test_a_budget_read_is_304_until_an_allocation_moves_it(
    allocated: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> None:
    etag = await tagged(icb, path, params)
    await assert_not_modified(icb, path, params, etag)
    await top_up(icb, 1_000)
    moved = await read(icb, path, params, etag)
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] != etag and moved.content
    await assert_not_modified(icb, path, params, moved.headers["etag"])
    # The tag is the answer's: an allocation to another PCN moves only the reads that show it (the list).
    other = {"pot": "arrs", "amount_pence": 5, "reason": "Elsewhere"}
    assert (await admin.post(f"/v1/pcns/U00002/budgets/{FY}/allocations", json=other)).status_code == 201
    after_other = await read(icb, path, params, moved.headers["etag"])
    assert after_other.status_code == (200 if path == BUDGETS else 304)


async def test_a_budget_is_answered_as_before_and_tagged_by_its_bytes(
    allocated: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    answers = [await read(client, BUDGET, {}) for client in (admin, icb, pcn)]
    # The same budget, the same bytes to everyone who may read it: the same tag.
    assert len({a.content for a in answers}) == 1 and len({a.headers["etag"] for a in answers}) == 1
    assert answers[0].headers["content-type"] == "application/json"
    assert answers[0].json()["pcn_code"] == "U00001" and answers[0].json()["pots"]
    # A list is filtered by who asks: another answer, another tag; one client's tag is not another's 304.
    everyone = await tagged(admin, BUDGETS, {"fy": FY})
    own = await read(icb, BUDGETS, {"fy": FY}, everyone)
    assert own.status_code == 200 and own.headers["etag"] != everyone
    # Outside the client's scope: 404 whatever it sends, never a 304.
    outsider = await pcn.get(f"/v1/pcns/U00003/budgets/{FY}", headers={"If-None-Match": "*"})
    assert outsider.status_code == 404 and "etag" not in outsider.headers


@pytest.mark.parametrize("path", [BUDGETS, LEDGER])
async def test_csv_and_json_are_tagged_apart(allocated: None, admin: httpx.AsyncClient, path: str) -> None:
    params = {"fy": FY}
    as_json = await tagged(admin, path, params)
    as_csv = await tagged(admin, path, {**params, "format": "csv"})
    assert as_csv != as_json
    assert await tagged(admin, path, params) == as_json  # stable
    by_accept = await admin.get(path, params=params, headers={"Accept": "text/csv", "If-None-Match": as_csv})
    assert by_accept.status_code == 304 and by_accept.headers["vary"] == "Accept"
    crossed = await read(admin, path, {**params, "format": "csv"}, as_json)
    assert crossed.status_code == 200 and crossed.headers["content-type"].startswith("text/csv")
    await top_up(admin, 7)
    assert (await read(admin, path, {**params, "format": "csv"}, as_csv)).status_code == 200
