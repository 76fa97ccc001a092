"""Two monthly returns of one PCN submitted at once on PostgreSQL, against a pot that holds one of
them: exactly one is held whole, the other is refused whole (domain §6: all lines held, or none)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import Engine

from .test_claim_races import AMOUNT, PCN_CODE, app, clients, engine, holds, pot, prepare, statuses

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("budget_db_url", ["postgresql"], indirect=True),
    pytest.mark.usefixtures("ledger_verified"),
]
__all__ = ["app", "clients", "engine"]  # the fixtures, shared with the claim races


async def test_two_returns_racing_for_a_pot_that_fits_one(
    clients: dict[str, httpx.AsyncClient], engine: Engine
) -> None:
    pcn = clients["pcn"]
    # Three pharmacists, April and May 2024: two returns of 3 × 100,000; the pot holds 400,000.
    drafts = await prepare(clients, posts=3, months=2, top_up=4 * AMOUNT)
    returns = []
    for month in ("2024-04", "2024-05"):
        made = await pcn.post("/v1/claim-returns", json={"pcn_code": PCN_CODE, "month": month, "payee_code": "A81001"})
        assert made.status_code == 201, made.text
        assert made.json()["totals"]["lines"] == 3
        declared = await pcn.post(
            f"/v1/claim-returns/{made.json()['id']}/declare", json={"declaration": "As employed."}
        )
        assert declared.status_code == 200, declared.text
        returns.append(made.json()["id"])

    answers = await asyncio.gather(*(pcn.post(f"/v1/claim-returns/{r}/submit") for r in returns))

    assert sorted(a.status_code for a in answers) == [200, 409]
    won = next(a for a in answers if a.status_code == 200).json()
    lost = next(a for a in answers if a.status_code == 409).json()
    assert lost["type"].endswith("return-refused")
    # The loser's first line would have fitted (100,000 left): it is not held either.
    assert [c["code"] for line in lost["lines"] for c in line["checks"]] == ["budget-exceeded", "budget-exceeded"]
    assert won["status"] == "submitted" and won["totals"]["by_status"] == {"submitted": 3}
    held = {s for i, s in statuses(engine).items() if i in drafts}
    assert held == {"submitted", "draft"}
    assert sorted(statuses(engine).values()).count("submitted") == 3
    assert len(holds(engine)) == 3
    balance = pot(engine)
    assert (balance.held_pence, balance.available_pence) == (3 * AMOUNT, AMOUNT)
