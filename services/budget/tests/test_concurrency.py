"""Racing writers on real connections: the register's invariants hold whoever wins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from budget.repository import register as register_repo

ICB = {"code": "QHM", "name": "North East and North Cumbria"}


def pcn_claiming(number: int, practice_code: str) -> dict[str, object]:
    return {
        "code": f"U{number:05d}",
        "name": f"PCN {number}",
        "icb_code": "QHM",
        "practice_codes": [f"A{90000 + number}", practice_code],
        "list_size": 30_000,
        "effective_date": "2024-04-01",
    }


@pytest.fixture(params=["as-it-comes", "window-held-open"])
def race_window(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either the requests race as they come, or each one pauses between checking that the practice
    is free and claiming it, so on PostgreSQL every request passes the check and the partial unique
    index alone has to turn all but one away."""
    if request.param == "window-held-open":
        original = register_repo.memberships_of_practices

        def slow(session: Any, practice_codes: Sequence[str]) -> Any:
            time.sleep(0.05)
            return original(session, practice_codes)

        monkeypatch.setattr(register_repo, "memberships_of_practices", slow)
    return str(request.param)


async def test_racing_pcns_claiming_one_practice_get_it_once(
    admin: httpx.AsyncClient, budget_app: FastAPI, race_window: str
) -> None:
    # Sync endpoints run in the thread pool, so these requests hold separate database connections at
    # the same time; the partial unique index (and BEGIN IMMEDIATE on SQLite) must let one through.
    assert (await admin.post("/v1/icbs", json=ICB)).status_code == 201
    responses = await asyncio.gather(*(admin.post("/v1/pcns", json=pcn_claiming(n, "A81001")) for n in range(1, 9)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    winner = next(r.json()["code"] for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["type"] == "/problems/practice-in-another-pcn"
            assert body["pcn_code"] == winner
    # The losers wrote nothing at all: no PCN, not even their other practice.
    listed = (await admin.get("/v1/pcns")).json()["data"]
    assert [p["code"] for p in listed] == [winner]
    assert (await admin.get("/v1/practices/A81001")).json()["pcn_code"] == winner
    engine = create_engine(budget_app.state.db.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT pcn_code FROM practice_membership WHERE practice_code = 'A81001'")).all()
    finally:
        engine.dispose()
    assert rows == [(winner,)]


async def test_racing_edits_with_one_etag_apply_once(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/v1/icbs", json=ICB)).status_code == 201
    created = await admin.post("/v1/pcns", json=pcn_claiming(1, "A81001"))
    etag = created.headers["etag"]
    responses = await asyncio.gather(
        *(admin.patch("/v1/pcns/U00001", json={"list_size": 40_000 + n}, headers={"If-Match": etag}) for n in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] + [412] * 7, [r.text for r in responses]
    won = next(r for r in responses if r.status_code == 200)
    read = await admin.get("/v1/pcns/U00001")
    assert read.json()["list_size"] == won.json()["list_size"]
    assert read.headers["etag"] == '"pcn-U00001-v2"'


async def test_racing_weighted_populations_keep_every_replaced_value(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/v1/icbs", json=ICB)).status_code == 201
    assert (await admin.post("/v1/pcns", json=pcn_claiming(1, "A81001"))).status_code == 201
    path = "/v1/pcns/U00001/weighted-populations/2024-25"
    responses = await asyncio.gather(
        *(
            admin.put(path, json={"weighted_population": f"{50_000 + n}", "reference_date": "2024-01-01"})
            for n in range(8)
        )
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    final = (await admin.get("/v1/pcns/U00001")).json()["weighted_populations"][0]
    # Serialised on the PCN row: eight values, seven replaced, none lost.
    values = {h["weighted_population"] for h in final["history"]} | {final["weighted_population"]}
    assert values == {f"{50_000 + n}.000" for n in range(8)}
    assert len(final["history"]) == 7


async def test_racing_edits_adding_one_practice_to_two_pcns_add_it_once(
    admin: httpx.AsyncClient, race_window: str
) -> None:
    assert (await admin.post("/v1/icbs", json=ICB)).status_code == 201
    for number in (1, 2):
        assert (await admin.post("/v1/pcns", json=pcn_claiming(number, f"A8100{number}"))).status_code == 201
    etags = {n: (await admin.get(f"/v1/pcns/U0000{n}")).headers["etag"] for n in (1, 2)}
    responses = await asyncio.gather(
        *(
            admin.patch(
                f"/v1/pcns/U0000{n}",
                json={"practice_codes": [f"A9000{n}", f"A8100{n}", "A81009"]},
                headers={"If-Match": etags[n]},
            )
            for n in (1, 2)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    winner = next(r for r in responses if r.status_code == 200).json()["code"]
    assert loser.json()["type"] == "/problems/practice-in-another-pcn" and loser.json()["pcn_code"] == winner
    assert (await admin.get("/v1/practices/A81009")).json()["pcn_code"] == winner


async def test_racing_pcns_claiming_two_practices_in_either_order_never_deadlock(
    admin: httpx.AsyncClient, race_window: str
) -> None:
    # Claims are written in one order (sorted codes) whatever order the body lists them in, so two
    # writers never each hold the practice the other one waits for.
    assert (await admin.post("/v1/icbs", json=ICB)).status_code == 201
    orders = [["A81001", "A81002"], ["A81002", "A81001"]] * 4
    bodies = [{**pcn_claiming(n, "A81001"), "practice_codes": order} for n, order in enumerate(orders, start=1)]
    responses = await asyncio.gather(*(admin.post("/v1/pcns", json=body) for body in bodies))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
    winner = next(r.json()["code"] for r in responses if r.status_code == 201)
    for code in ("A81001", "A81002"):
        assert (await admin.get(f"/v1/practices/{code}")).json()["pcn_code"] == winner
