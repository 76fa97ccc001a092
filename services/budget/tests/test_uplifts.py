"""A backdated uplift applied to paid claims (domain §6): previewed, then one adjustment per paid claim
of a confirmed post on the superseded rate, each showing both computations; asking twice adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.testclient import TestClient

from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import GatewaySigner, asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app

from .conftest import ICB, PCN
from .factories import AMOUNTS, act, draft, new_post, top_up

pytestmark = pytest.mark.usefixtures("register", "ledger_verified")

FY = "2025-26"
UPLIFTS = f"/v1/pcns/U00001/budgets/{FY}/uplifts"
MONTHS = ("2025-04", "2025-05", "2025-06")
# Clinical pharmacist, national, from 1 April 2025 (published): 6,697,200 ÷ 12 = 558,100 a month at
# 1 WTE; the PCN paid 567,000 a month, so each claim is the cap, 558,100.
CAP = 558_100


@pytest.fixture
async def clients(
    budget_db_url: str, roles_client: TestClient
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The ICB and the PCN through a budget service that reads the test's roles service afresh."""
    catalogue = RoleCatalogue(roles_client, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0)
    app = create_app(BudgetSettings(database_url=budget_db_url), configure_logs=False, catalogue=catalogue)
    async with asgi_client(app, principal=ICB) as icb, asgi_client(app, principal=PCN) as pcn:
        yield icb, pcn


async def paid_quarter(icb: httpx.AsyncClient, pcn: httpx.AsyncClient, post_id: int) -> list[int]:
    ids = []
    for month in MONTHS:
        claim = await draft(pcn, post_id, month, **AMOUNTS)
        assert claim["cap_pence"] == CAP and claim["reimbursable_pence"] == CAP
        for step, body in (("submit", None), ("approve", None), ("pay", {"payment_reference": f"P-{month}"})):
            assert (await act(pcn if step == "submit" else icb, claim["id"], step, body)).status_code == 200
        ids.append(claim["id"])
    return ids


async def arrs(icb: httpx.AsyncClient) -> dict[str, int]:
    pots = (await icb.get(f"/v1/pcns/U00001/budgets/{FY}")).json()["pots"]
    return next(p for p in pots if p["pot"] == "arrs")


async def test_an_uplift_across_three_paid_months_for_the_confirmed_post_only(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], roles_client: TestClient
) -> None:
    icb, pcn = clients
    await top_up(icb, 5_000_000, fy=FY)
    confirmed = await new_post(pcn, display_name="Pharmacist A", start_date="2025-04-01")
    other = await new_post(pcn, display_name="Pharmacist B", start_date="2025-04-01")
    confirmed_claims = await paid_quarter(icb, pcn, confirmed)
    other_claims = await paid_quarter(icb, pcn, other)

    # The uplift, published later and backdated to 1 April 2025: 7,000,000 supersedes 6,697,200.
    role = roles_client.get("/v1/roles/clinical_pharmacist", auth=GatewaySigner()).json()
    old = next(
        p
        for p in role["rate_periods"]
        if (p["geography"], p["effective_from"], p["status"]) == ("national", "2025-04-01", "current")
    )
    uplift = {
        "geography": "national",
        "effective_from": "2025-04-01",
        "annual_max_pence": 7_000_000,
        "provenance": "published",
        "source": "Uplift letter, August 2025, backdated to 1 April",
        "supersedes_id": old["id"],
    }
    added = roles_client.post("/v1/roles/clinical_pharmacist/rates", json=uplift, auth=GatewaySigner())
    assert added.status_code == 201, added.text
    new_id = added.json()["id"]

    # Preview: 7,000,000 ÷ 12 = 583,333.33, so each month comes to min(567,000, 583,333.33) = 567,000:
    # 8,900 more than the 558,100 paid; 3 × 8,900 = 26,700. Nothing is written.
    before = await arrs(icb)
    body = {"rate_period_id": new_id, "post_ids": [confirmed]}
    preview = await pcn.post(UPLIFTS, json=body)
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert (shown["applied"], shown["supersedes_id"], shown["total_difference_pence"]) == (False, old["id"], 26_700)
    assert [(line["claim_id"], line["outcome"], line["difference_pence"]) for line in shown["lines"]] == [
        (claim_id, "adjust", 8_900) for claim_id in confirmed_claims
    ]
    line = shown["lines"][0]
    assert (line["before"]["rate_period"]["annual_max_pence"], line["before"]["cap_pence"]) == (6_697_200, CAP)
    assert (line["after"]["rate_period"]["annual_max_pence"], line["after"]["cap_pence"]) == (7_000_000, 583_333)
    assert (line["before"]["reimbursable_pence"], line["after"]["reimbursable_pence"]) == (CAP, 567_000)
    assert shown["not_confirmed_claim_ids"] == other_claims
    assert await arrs(icb) == before

    # Applied: one adjustment per claim, held for the ICB's decision; a retry replays.
    applied = await pcn.post(UPLIFTS, json={**body, "apply": True}, headers={"Idempotency-Key": "uplift-2025"})
    assert applied.status_code == 201, applied.text
    adjustments = [line["adjustment_id"] for line in applied.json()["lines"]]
    assert [line["outcome"] for line in applied.json()["lines"]] == ["adjusted"] * 3 and all(adjustments)
    assert (await arrs(icb))["held_pence"] == before["held_pence"] + 26_700
    replay = await pcn.post(UPLIFTS, json={**body, "apply": True}, headers={"Idempotency-Key": "uplift-2025"})
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == applied.json()
    adjustment = (await icb.get(f"/v1/claims/{adjustments[0]}")).json()
    assert (adjustment["kind"], adjustment["amount_pence"], adjustment["rate_period"]["id"]) == (
        "adjustment",
        8_900,
        new_id,
    )

    # Asked again: nothing new while the adjustments await a decision, nor once they are paid: the
    # claims stand on the new period now (their adjustments' terms), none is on the superseded one.
    again = await pcn.post(UPLIFTS, json={**body, "apply": True})
    assert again.status_code == 200 and again.json()["lines"] == []
    for adjustment_id in adjustments:
        for step, step_body in (("approve", None), ("pay", {"payment_reference": "P-UPLIFT"})):
            assert (await act(icb, adjustment_id, step, step_body)).status_code == 200
    settled = await pcn.post(UPLIFTS, json={**body, "apply": True})
    assert settled.status_code == 200 and settled.json()["total_difference_pence"] == 0
    assert settled.json()["lines"] == [] and settled.json()["not_confirmed_claim_ids"] == other_claims
    # A later correction of amounts is computed on the uplifted rate, not the superseded one:
    # 567,000 again comes to what is claimed already (558,100 + 8,900).
    same = {**AMOUNTS, "reason": "checked again"}
    assert_problem(
        await pcn.post(f"/v1/claims/{confirmed_claims[0]}/adjustments", json=same), 422, "adjustment-not-needed"
    )
    final = await arrs(icb)
    assert final["paid_pence"] == 6 * CAP + 26_700 and final["held_pence"] == 0

    # Refused: a period that supersedes nothing, a post of another PCN, a dashboard.
    assert_problem(await pcn.post(UPLIFTS, json={**body, "rate_period_id": old["id"]}), 422, "uplift-not-applicable")
    assert_problem(await pcn.post(UPLIFTS, json={**body, "post_ids": [999_999]}), 422, "uplift-not-applicable")
