"""The year end (domain §5): a year closes only after its claim window and with no claim awaiting a
decision or payment; what is available then lapses; afterwards the year takes no claim or allocation.
And a paid claim's adjustment keeps the terms it was paid on (domain §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import GatewaySigner, asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.domain.calendar import claim_window_end
from budget.main import create_app

from .conftest import ICB, PCN
from .factories import AMOUNTS, FY, act, draft, new_post, top_up

pytestmark = pytest.mark.usefixtures("register", "ledger_verified")

BUDGET = f"/v1/pcns/U00001/budgets/{FY}"
CLOSE = f"{BUDGET}/close"
# March 2025: clinical pharmacist, national, 1 WTE, whole month: cap = 6,583,800 ÷ 12 = 548,650 exactly;
# the PCN paid 450,000 + 52,000 + 65,000 = 567,000, so the claim is the cap.
MARCH = 548_650


def test_the_claim_window_ends_months_after_the_year() -> None:
    assert claim_window_end("2024-25", 3) == date(2025, 6, 30)  # the default: 30 June
    assert claim_window_end("2024-25", 0) == date(2025, 3, 31)
    assert claim_window_end("2024-25", 11) == date(2026, 2, 28)
    assert claim_window_end("2024-25", 24) == date(2027, 3, 31)


@pytest.fixture
async def icb_with_a_long_window(
    budget_db_url: str, roles_catalogue: RoleCatalogue
) -> AsyncIterator[httpx.AsyncClient]:
    """The same ICB, through a budget service whose claim window runs 24 months past the year: for
    FY 2024-25 it is still open (to 31 March 2027)."""
    settings = BudgetSettings(database_url=budget_db_url, claim_window_months=24)
    app: FastAPI = create_app(settings, configure_logs=False, catalogue=roles_catalogue)
    async with asgi_client(app, principal=ICB) as client:
        yield client


async def pots(client: httpx.AsyncClient) -> dict[str, int]:
    body = (await client.get(BUDGET)).json()
    arrs = next(p for p in body["pots"] if p["pot"] == "arrs")
    return {k: v for k, v in arrs.items() if k.endswith("_pence")}


async def test_a_march_claim_made_in_april_then_a_close_too_early_then_on_time(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, icb_with_a_long_window: httpx.AsyncClient
) -> None:
    await top_up(icb, 1_000_000)
    march = await draft(pcn, await new_post(pcn), "2025-03")  # in arrears: made after March ended
    assert march["reimbursable_pence"] == MARCH
    assert (await act(pcn, march["id"], "submit")).status_code == 200

    # Too early: the window of a 24-month setting runs to 31 March 2027, and nothing moves.
    early = assert_problem(await icb_with_a_long_window.post(CLOSE), 422, "claim-window-open")
    assert early["claim_window_ends_on"] == "2027-03-31"
    # On time (the default window ended on 30 June 2025), but the March claim awaits a decision.
    waiting = assert_problem(await icb.post(CLOSE), 409, "claims-outstanding")
    assert waiting["claim_ids"] == [march["id"]]
    assert (await act(icb, march["id"], "approve")).status_code == 200
    assert_problem(await icb.post(CLOSE), 409, "claims-outstanding")  # approved, not yet paid
    assert (await act(icb, march["id"], "pay", {"payment_reference": "BACS-2025-07"})).status_code == 200

    # Closed: 1,000,000 allocated − 548,650 paid = 451,350 lapses.
    closed = await icb.post(CLOSE, headers={"Idempotency-Key": "close-2024-25"})
    assert closed.status_code == 200, closed.text
    report = closed.json()
    assert report["lapsed"] == [{"pot": "arrs", "lapsed_pence": 451_350}]
    assert report["claim_window_ended_on"] == "2025-06-30"
    assert report["pots"] == [
        {
            "pot": "arrs",
            "allocated_pence": 1_000_000,
            "held_pence": 0,
            "approved_pence": 0,
            "paid_pence": MARCH,
            "lapsed_pence": 451_350,
            "available_pence": 0,
        }
    ]
    replay = await icb.post(CLOSE, headers={"Idempotency-Key": "close-2024-25"})
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == report
    # Closing again answers the close and moves nothing.
    again = (await icb.post(CLOSE)).json()
    assert again["lapsed"] == [] and again["closed_at"] == report["closed_at"] and again["pots"] == report["pots"]

    # After the close: no claim for its months, no allocation; the next year is untouched.
    late = await pcn.post("/v1/claims", json={"post_id": march["post_id"], "month": "2025-02", **AMOUNTS})
    assert_problem(late, 422, "financial-year-closed")
    preview = await pcn.post("/v1/claims/preview", json={"post_id": march["post_id"], "month": "2025-01", **AMOUNTS})
    assert "financial-year-closed" in [
        c["code"] for c in assert_problem(preview, 422, "financial-year-closed")["checks"]
    ]
    topped = await icb.post(f"{BUDGET}/allocations", json={"pot": "arrs", "amount_pence": 1, "reason": "late top-up"})
    assert_problem(topped, 422, "financial-year-closed")
    assert await pots(icb) == {k: v for k, v in report["pots"][0].items() if k.endswith("_pence")}
    await top_up(icb, 1_000, fy="2025-26")
    assert (await draft(pcn, march["post_id"], "2025-04"))["status"] == "draft"
    kinds = [p["kind"] for p in (await icb.get("/v1/pcns/U00001/ledger", params={"fy": FY})).json()["data"]]
    assert kinds.count("lapse") == 1


async def test_a_year_closes_only_for_its_icb_and_never_before_its_window(
    icb: httpx.AsyncClient, other_icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    assert_problem(await pcn.post(CLOSE), 403, "forbidden")  # it sees its budget but does not close it
    assert_problem(await other_icb.post(CLOSE), 404, "pcn-not-found")  # for it, there is no such PCN
    # 2026-27 has not even started: its window ends on 30 June 2027.
    problem = assert_problem(await icb.post("/v1/pcns/U00001/budgets/2026-27/close"), 422, "claim-window-open")
    assert problem["claim_window_ends_on"] == "2027-06-30"
    # A year with nothing allocated closes with nothing to lapse.
    empty = await icb.post("/v1/pcns/U00001/budgets/2023-24/close")
    assert empty.status_code == 200, empty.text
    assert (empty.json()["lapsed"], empty.json()["pots"]) == ([], [])


@pytest.fixture
async def fresh_rates(
    budget_db_url: str, roles_client: TestClient
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The ICB and the PCN through a budget service that reads the test's own roles service afresh on
    every claim (no cache): a rate corrected there is what a new claim would use at once."""
    catalogue = RoleCatalogue(roles_client, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0)
    app = create_app(BudgetSettings(database_url=budget_db_url), configure_logs=False, catalogue=catalogue)
    async with asgi_client(app, principal=ICB) as icb, asgi_client(app, principal=PCN) as pcn:
        yield icb, pcn


async def test_an_adjustment_keeps_the_rate_and_hours_its_claim_was_paid_on(
    fresh_rates: tuple[httpx.AsyncClient, httpx.AsyncClient], roles_client: TestClient
) -> None:
    icb, pcn = fresh_rates
    await top_up(icb, 2_000_000)
    # A social prescribing link worker, 30 hours (0.8 WTE), November 2024, on the estimated band 5
    # figure of 1 October 2024: cap = 4,243,700 × 0.8 ÷ 12 = 282,913.33 → 282,913.
    post_id = await new_post(pcn, role_code="social_prescribing_link_worker", afc_band="5", hours_per_week="30")
    paid = await draft(pcn, post_id, "2024-11", salary_pence=200_000, employer_ni_pence=0, employer_pension_pence=0)
    for step, body in (("submit", None), ("approve", None), ("pay", {"payment_reference": "P-NOV"})):
        assert (await act(pcn if step == "submit" else icb, paid["id"], step, body)).status_code == 200
    assert (paid["cap_pence"], paid["reimbursable_pence"]) == (282_913, 200_000)
    rate_id = paid["rate_period"]["id"]

    # Since then: the estimate is corrected to 48,000 (superseding it), and the post went full time.
    splw = roles_client.get("/v1/roles/social_prescribing_link_worker", auth=GatewaySigner()).json()
    old = next(p for p in splw["rate_periods"] if p["id"] == rate_id)
    correction = {
        "geography": "national",
        "effective_from": old["effective_from"],
        "annual_max_pence": 4_800_000,
        "provenance": "estimated",
        "source": "corrected estimate",
        "supersedes_id": rate_id,
    }
    assert (
        roles_client.post(
            "/v1/roles/social_prescribing_link_worker/rates", json=correction, auth=GatewaySigner()
        ).status_code
        == 201
    )
    # Backdated over the paid month: November is now full time in the post's terms.
    changed = await pcn.post(
        f"/v1/posts/{post_id}/terms", json={"effective_from": "2024-11-01", "hours_per_week": "37.5"}
    )
    assert changed.status_code == 201, changed.text
    # A new claim would now use the correction: 4,800,000 ÷ 12 = 400,000 at 1 WTE.
    fresh = (await pcn.post("/v1/claims/preview", json={"post_id": post_id, "month": "2024-12", **AMOUNTS})).json()
    assert fresh["cap_pence"] == 400_000

    # The adjustment of November is computed on what November was paid on: 4,243,700 at 0.8 WTE. The
    # PCN paid 300,000 in all, so the claim becomes min(300,000, 282,913.33) = 282,913; the adjustment
    # is 282,913 − 200,000 = 82,913 (on the correction and full time it would have been 100,000).
    corrected: dict[str, object] = {
        "salary_pence": 300_000,
        "employer_ni_pence": 0,
        "employer_pension_pence": 0,
        "reason": "bonus left out",
    }
    response = await pcn.post(f"/v1/claims/{paid['id']}/adjustments", json=corrected)
    assert response.status_code == 201, response.text
    adjustment = response.json()
    assert adjustment["rate_period"]["id"] == rate_id
    assert adjustment["rate_period"]["annual_max_pence"] == 4_243_700
    assert (adjustment["wte"], adjustment["cap_pence"]) == ("0.8", 282_913)
    assert (adjustment["reimbursable_pence"], adjustment["amount_pence"]) == (282_913, 82_913)
