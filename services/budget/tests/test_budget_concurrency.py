"""Racing writers to one pot on real connections (SQLite and PostgreSQL): the pot's balance row is
locked before every posting, so available never goes negative, exactly the reductions that fit
succeed, and the ledger still verifies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from budget.repository import ledger as ledger_repo

pytestmark = pytest.mark.usefixtures("ledger_verified")

FY = "2024-25"
BUDGET = f"/v1/pcns/U00001/budgets/{FY}"
ALLOCATIONS = f"{BUDGET}/allocations"


@pytest.fixture(params=["as-it-comes", "window-held-open"])
def race_window(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either the requests race as they come, or each one pauses after taking the pot's balance row
    and before posting, so without the lock every racer would read the same available amount."""
    if request.param == "window-held-open":
        original = ledger_repo.lock_balance

        def slow(*args: Any, **kwargs: Any) -> Any:
            row = original(*args, **kwargs)
            time.sleep(0.02)
            return row

        monkeypatch.setattr(ledger_repo, "lock_balance", slow)
    return str(request.param)


async def available(client: httpx.AsyncClient) -> int:
    response = await client.get(BUDGET)
    assert response.status_code == 200, response.text
    return int(next(p["available_pence"] for p in response.json()["pots"] if p["pot"] == "arrs"))


async def test_racing_reductions_take_only_what_is_available(
    register: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, race_window: str
) -> None:
    top_up = {"pot": "arrs", "amount_pence": 1_000_000, "reason": "Start"}
    assert (await admin.post(ALLOCATIONS, json=top_up)).status_code == 201
    # 24 reductions of £1,000 against £10,000: exactly 10 fit.
    responses = await asyncio.gather(
        *(
            icb.post(ALLOCATIONS, json={"pot": "arrs", "amount_pence": -100_000, "reason": f"Reduction {n}"})
            for n in range(24)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 14, [r.text for r in responses]
    assert all(r.json()["type"] == "/problems/budget-exceeded" for r in responses if r.status_code == 409)
    assert await available(admin) == 0
    ledger = (await admin.get("/v1/pcns/U00001/ledger", params={"limit": 500})).json()["data"]
    assert [p["kind"] for p in ledger] == ["top_up"] + ["reduction"] * 10


async def test_racing_top_ups_and_reductions_never_lose_an_update(
    register: None, admin: httpx.AsyncClient, race_window: str
) -> None:
    assert (await admin.post(ALLOCATIONS, json={"pot": "arrs", "amount_pence": 500, "reason": "s"})).status_code == 201
    amounts = [100 if n % 2 else -100 for n in range(20)]
    responses = await asyncio.gather(
        *(admin.post(ALLOCATIONS, json={"pot": "arrs", "amount_pence": a, "reason": "r"}) for a in amounts)
    )
    posted = [a for a, r in zip(amounts, responses, strict=True) if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert await available(admin) == 500 + sum(posted)


async def test_racing_allocations_post_the_sums_once(register: None, admin: httpx.AsyncClient) -> None:
    body = {"weighted_population": "10000.5", "reference_date": "2024-01-01"}
    assert (await admin.put(f"/v1/pcns/U00001/weighted-populations/{FY}", json=body)).status_code == 200
    responses = await asyncio.gather(*(admin.post(f"{BUDGET}/allocate") for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [r.text for r in responses]
    assert len({str(r.json()) for r in responses}) == 1  # every caller is answered the same
    ledger = (await admin.get("/v1/pcns/U00001/ledger")).json()["data"]
    assert [(p["pot"], p["amount_pence"]) for p in ledger] == [("arrs", 22_895_145), ("arrs_gp", 1_303_065)]


async def test_racing_retries_with_one_idempotency_key_post_once(register: None, icb: httpx.AsyncClient) -> None:
    body = {"pot": "arrs", "amount_pence": 1_000, "reason": "Top-up"}
    responses = await asyncio.gather(
        *(icb.post(ALLOCATIONS, json=body, headers={"Idempotency-Key": "same"}) for _ in range(8))
    )
    # Each is the first (201), a replay of it (201), or told the first is still running (409).
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert any(r.status_code == 201 for r in responses)
    ledger = (await icb.get("/v1/pcns/U00001/ledger")).json()["data"]
    assert [p["amount_pence"] for p in ledger] == [1_000]
