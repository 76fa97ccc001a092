"""Claims in-process, on SQLite and PostgreSQL, against the real roles service and its seeded
catalogue: the computation through the API, every reason code of domain §6, the lifecycle and its
ledger postings, idempotency, drafts with If-Match, adjustments, scope, and a roles outage.

After every test the ledger is verified (balances recomputed from the postings)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app
from budget.models import Claim, Posting

from .factories import AMOUNTS, FY, act, add_rate, draft, new_post, post_body, top_up

pytestmark = pytest.mark.usefixtures("register", "ledger_verified")

BUDGET = f"/v1/pcns/U00001/budgets/{FY}"

# 2024-10: clinical pharmacist, national, 1 WTE, whole month: cap = 6,583,800 / 12 = 548,650 exactly.
OCT_CAP = 548_650
PCN_PRINCIPAL = Principal(kind="pcn", client_id="test-pcn", org_codes=("U00001",))


async def pot(client: httpx.AsyncClient, name: str = "arrs", path: str = BUDGET) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return next((p for p in response.json()["pots"] if p["pot"] == name), {})


async def test_a_claim_from_draft_to_paid_moves_the_money_through_the_ledger(
    admin: httpx.AsyncClient, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 1_000_000)
    post_id = await new_post(pcn)

    claim = await draft(pcn, post_id)
    assert claim["status"] == "draft" and claim["kind"] == "claim"
    assert claim["pcn_code"] == "U00001" and claim["role_code"] == "clinical_pharmacist" and claim["pot"] == "arrs"
    assert (claim["days_in_post"], claim["days_in_month"], claim["wte"]) == (31, 31, "1")
    assert claim["actual_pence"] == 567_000 and claim["cap_pence"] == OCT_CAP
    assert claim["reimbursable_pence"] == claim["amount_pence"] == OCT_CAP
    assert claim["funding_share"] == "1"
    assert claim["rate_period"]["effective_from"] == "2024-10-01"
    assert claim["rate_period"]["annual_max_pence"] == 6_583_800
    assert claim["rate_period"]["provenance"] == "published" and claim["estimated_rate"] is False
    assert [(h["status"], h["action"], h["by"]) for h in claim["history"]] == [
        ("draft", "create", "Riverside PCN manager")
    ]
    assert (await pot(admin))["held_pence"] == 0  # a draft holds nothing

    submitted = (await act(pcn, claim["id"], "submit")).json()
    assert submitted["status"] == "submitted"
    assert (await pot(admin)) | {"pot": "arrs"} == {
        "pot": "arrs",
        "allocated_pence": 1_000_000,
        "held_pence": OCT_CAP,
        "approved_pence": 0,
        "paid_pence": 0,
        "lapsed_pence": 0,
        "available_pence": 1_000_000 - OCT_CAP,
    }
    approved = (await act(icb, claim["id"], "approve")).json()
    assert approved["status"] == "approved"
    assert (await pot(admin))["approved_pence"] == OCT_CAP
    paid = (await act(icb, claim["id"], "pay", {"payment_reference": "BACS-2024-11-001"})).json()
    assert paid["status"] == "paid" and paid["payment_reference"] == "BACS-2024-11-001"
    final = await pot(admin)
    assert (final["held_pence"], final["approved_pence"], final["paid_pence"]) == (0, 0, OCT_CAP)
    assert final["available_pence"] == 1_000_000 - OCT_CAP
    assert [(h["status"], h["by"]) for h in paid["history"]] == [
        ("draft", "Riverside PCN manager"),
        ("submitted", "Riverside PCN manager"),
        ("approved", "QHM digital team"),
        ("paid", "QHM digital team"),
    ]
    ledger = (await admin.get("/v1/pcns/U00001/ledger?fy=2024-25")).json()["data"]
    moves = [(p["debit_account"], p["credit_account"], p["amount_pence"], p["kind"]) for p in ledger[1:]]
    assert moves == [
        ("available", "held", OCT_CAP, "claim_hold"),
        ("held", "approved", OCT_CAP, "claim_approval"),
        ("approved", "paid", OCT_CAP, "claim_payment"),
    ]
    assert {p["reference"] for p in ledger[1:]} == {f"claim:{claim['id']}"}
    # The claim is readable with the same computation and its ETag.
    got = await pcn.get(f"/v1/claims/{claim['id']}")
    assert got.json() == paid and got.headers["etag"] == f'"claim-{claim["id"]}-v4"'


async def test_the_rate_in_force_on_the_first_of_the_month_is_used(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    post_id = await new_post(pcn, hours_per_week="22.5")  # 0.6 WTE
    september = await draft(pcn, post_id, "2024-09")
    october = await draft(pcn, post_id, "2024-10")
    assert september["rate_period"]["annual_max_pence"] == 6_234_000  # in force since 1 July 2023
    assert september["cap_pence"] == 311_700  # 6,234,000 × 0.6 / 12
    assert october["cap_pence"] == 329_190  # 6,583,800 × 0.6 / 12
    assert september["wte"] == october["wte"] == "0.6"


async def test_part_month_and_a_leap_february(pcn: httpx.AsyncClient) -> None:
    # Started on 15 February 2024 (a leap year: 29 days), so 15 days of 29.
    post_id = await new_post(pcn, start_date="2024-02-15", leave_date="2024-10-10")
    february = await draft(pcn, post_id, "2024-02", salary_pence=100_000, employer_ni_pence=0, employer_pension_pence=0)
    assert (february["days_in_post"], february["days_in_month"]) == (15, 29)
    # 6,234,000 × 15 / 29 / 12 = 268,706.896… → 268,707
    assert february["cap_pence"] == 268_707 and february["reimbursable_pence"] == 100_000
    october = await draft(pcn, post_id, "2024-10")
    assert (october["days_in_post"], october["days_in_month"]) == (10, 31)
    # 6,583,800 × 10 / 31 / 12 = 176,983.87… → 176,984; actual is more, so the cap is reimbursed
    assert october["cap_pence"] == october["reimbursable_pence"] == 176_984


async def test_the_mhp_share_and_its_override(pcn: httpx.AsyncClient, roles_client: TestClient) -> None:
    # A band 7 maximum from January 2024, so that the months before 2024-25 have a rate too.
    add_rate(roles_client, "mental_health_practitioner_adult", 6_000_000, "2024-01-01", afc_band="7")
    mhp = {"role_code": "mental_health_practitioner_adult", "afc_band": "7", "start_date": "2024-01-01"}
    first = await new_post(pcn, **mhp, funding_share="1.0")
    later = await new_post(pcn, **mhp, funding_share="0.7")
    unagreed = await new_post(pcn, **mhp)
    amounts = {"salary_pence": 300_001, "employer_ni_pence": 0, "employer_pension_pence": 0}
    # The PCN's first MHP takes half, whatever its post says: 300,001 × 0.5 = 150,000.5 → 150,001.
    by_default = await draft(pcn, first, **amounts)
    assert by_default["funding_share"] == "0.5"
    assert by_default["reimbursable_pence"] == 150_001
    # A later MHP takes the share agreed on its post: 300,001 × 0.7 = 210,000.7 → 210,001.
    agreed = await draft(pcn, later, **amounts)
    assert agreed["funding_share"] == "0.7" and agreed["reimbursable_pence"] == 210_001
    assert (await draft(pcn, unagreed, **amounts))["funding_share"] == "0.5"
    # The cap is the band 7 maximum of the catalogue: 6,379,200 ÷ 12 = 531,600 from October 2024.
    assert agreed["cap_pence"] == 531_600 and agreed["rate_period"]["effective_from"] == "2024-10-01"
    # Before 2024-25 the catalogue allows no more than half, whatever the post says.
    before = await draft(pcn, later, "2024-03", **amounts)
    assert before["funding_share"] == "0.5" and before["cap_pence"] == 500_000


async def test_a_banded_role_is_paid_at_the_posts_band(pcn: httpx.AsyncClient) -> None:
    amounts = {"salary_pence": 900_000, "employer_ni_pence": 0, "employer_pension_pence": 0}
    band = {}
    for afc_band in ("5", "Band 8A"):
        post = await new_post(pcn, role_code="mental_health_practitioner_cyp", afc_band=afc_band)
        band[afc_band] = await draft(pcn, post, "2024-11", **amounts)
    # 37.5 hours (1 WTE): band 5 4,243,700 ÷ 12 = 353,641.67 → 353,642; band 8a 7,214,100 ÷ 12 = 601,175.
    assert band["5"]["cap_pence"] == 353_642 and band["Band 8A"]["cap_pence"] == 601_175
    assert band["5"]["reimbursable_pence"] == 176_821  # 353,641.67 × 0.5 = 176,820.83 → 176,821
    no_band = await new_post(pcn, role_code="mental_health_practitioner_cyp", afc_band="3")
    refused = await pcn.post("/v1/claims", json={"post_id": no_band, "month": "2024-11", **amounts})
    assert_problem(refused, 422, "rate-not-published")
    assert "AfC band 3" in refused.json()["detail"]


async def test_only_a_role_without_an_afc_band_takes_a_post_without_one(pcn: httpx.AsyncClient) -> None:
    refused = await pcn.post("/v1/posts", json=post_body(afc_band=None))
    assert_problem(refused, 422, "afc-band-required")
    gp = await new_post(pcn, role_code="general_medical_practitioner", afc_band=None)
    assert (await pcn.get(f"/v1/posts/{gp}")).json()["afc_band"] is None
    claim = await draft(pcn, gp, "2024-11")
    assert claim["rate_period"]["annual_max_pence"] == 9_246_200
    pharmacist = await new_post(pcn)
    dropped = await pcn.post(f"/v1/posts/{pharmacist}/terms", json={"effective_from": "2024-06-01", "afc_band": None})
    assert_problem(dropped, 422, "afc-band-required")


async def test_the_splw_supplier_fee_and_an_estimated_rate(pcn: httpx.AsyncClient) -> None:
    splw = await new_post(
        pcn, role_code="social_prescribing_link_worker", afc_band="5", employment_model="supplier", hours_per_week="30"
    )
    claim = await draft(
        pcn,
        splw,
        salary_pence=200_000,
        employer_ni_pence=20_000,
        employer_pension_pence=25_000,
        supplier_fee_pence=30_000,
    )
    assert claim["fee_allowed_pence"] == 16_000  # £200 × 0.8 WTE, not the £300 asked
    assert claim["actual_pence"] == 261_000
    assert claim["rate_period"]["provenance"] == "estimated" and claim["estimated_rate"] is True
    assert claim["cap_pence"] == 282_913  # 4,243,700 × 0.8 / 12 = 282,913.33…
    assert claim["reimbursable_pence"] == 261_000


async def test_a_gp_claim_draws_on_the_ring_fenced_pot(icb: httpx.AsyncClient, pcn: httpx.AsyncClient) -> None:
    await top_up(icb, 1_000_000, pot="arrs_gp")
    gp = await new_post(pcn, role_code="general_medical_practitioner", afc_band="salaried GP")
    claim = await draft(pcn, gp, "2024-11")
    assert claim["pot"] == "arrs_gp"
    assert (await act(pcn, claim["id"], "submit")).status_code == 200
    assert (await pot(icb, "arrs_gp"))["held_pence"] == claim["reimbursable_pence"]
    assert (await pot(icb, "arrs")) == {}


async def test_a_post_whose_role_the_catalogue_lacks_is_not_claimable(
    pcn: httpx.AsyncClient, budget_db_url: str
) -> None:
    # A post made before its role was checked against the catalogue (a new one is refused, 422
    # unknown-role): its claims are refused, never computed on a guessed rate.
    post_id = await new_post(pcn)
    engine = create_engine(budget_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE post SET role_code = 'no_such_role' WHERE id = :id"), {"id": post_id})
    finally:
        engine.dispose()
    body = {"post_id": post_id, "month": "2024-10", **AMOUNTS}
    for path in ("/v1/claims", "/v1/claims/preview"):
        problem = assert_problem(await pcn.post(path, json=body), 422, "role-not-claimable")
        assert "no role no_such_role" in problem["detail"]
    assert claim_count(budget_db_url) == 0


@pytest.mark.parametrize(
    ("post_changes", "claim_changes", "status", "code"),
    [
        ({"role_code": "general_medical_practitioner"}, {"month": "2024-09"}, 422, "role-not-claimable"),
        ({"role_code": "general_medical_practitioner", "geography": "outer_london"}, {}, 422, "rate-not-published"),
        ({"start_date": "2024-11-01"}, {}, 422, "post-not-active"),
        ({"leave_date": "2024-09-30"}, {}, 422, "post-not-active"),
        ({"baseline": True}, {}, 422, "post-in-baseline"),
        ({}, {"month": "2026-12"}, 422, "claim-month-not-ended"),
        ({}, {"supplier_fee_pence": 1}, 422, "supplier-fee-not-allowed"),
        (
            {"role_code": "social_prescribing_link_worker", "employment_model": "member_practice"},
            {"supplier_fee_pence": 1},
            422,
            "supplier-fee-not-allowed",
        ),
    ],
)
async def test_every_failing_check_refuses_the_draft_and_the_preview(
    pcn: httpx.AsyncClient,
    budget_db_url: str,
    post_changes: dict[str, Any],
    claim_changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    post_id = await new_post(pcn, **post_changes)
    body = {"post_id": post_id, "month": "2024-10", **AMOUNTS, **claim_changes}
    for path in ("/v1/claims", "/v1/claims/preview"):
        problem = assert_problem(await pcn.post(path, json=body), status, code)
        assert problem["type"].endswith(f"/{code}")
        assert code in [check["code"] for check in problem["checks"]]
    assert claim_count(budget_db_url) == 0


async def test_a_problem_names_every_failed_check(pcn: httpx.AsyncClient) -> None:
    post_id = await new_post(pcn, baseline=True, start_date="2024-11-01")
    body = {"post_id": post_id, "month": "2024-10", **AMOUNTS, "supplier_fee_pence": 5}
    problem = assert_problem(await pcn.post("/v1/claims", json=body), 422, "supplier-fee-not-allowed")
    assert [c["code"] for c in problem["checks"]] == ["supplier-fee-not-allowed", "post-in-baseline", "post-not-active"]


async def test_duplicate_claims_are_refused_until_the_first_is_withdrawn(pcn: httpx.AsyncClient) -> None:
    post_id = await new_post(pcn)
    first = await draft(pcn, post_id)
    body = {"post_id": post_id, "month": "2024-10", **AMOUNTS}
    problem = assert_problem(await pcn.post("/v1/claims", json=body), 409, "duplicate-claim")
    assert problem["claim_id"] == first["id"]
    assert (await act(pcn, first["id"], "withdraw", {"reason": "wrong figures"})).status_code == 200
    second = await draft(pcn, post_id)
    assert second["id"] != first["id"]


async def test_two_half_time_posts_fill_a_cap_of_one_wte_and_a_third_is_refused(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 2_000_000)
    # Digital and transformation lead: capped at 1 WTE per PCN in 2024-25, counted in WTE (domain §4).
    half = {"role_code": "digital_transformation_lead", "afc_band": "8a", "hours_per_week": "18.75"}
    first = await draft(pcn, await new_post(pcn, **half))
    second = await draft(pcn, await new_post(pcn, **half))
    third = await draft(pcn, await new_post(pcn, **half))  # drafts do not count against the cap
    # 18.75 ÷ 37.5 = 0.5 WTE each: 0.5 + 0.5 = 1 fills the cap; 1.5 would pass it.
    assert (first["wte"], second["wte"]) == ("0.5", "0.5")
    assert (await act(pcn, first["id"], "submit")).status_code == 200
    assert (await act(pcn, second["id"], "submit")).status_code == 200
    problem = assert_problem(await act(pcn, third["id"], "submit"), 409, "role-cap-exceeded")
    assert problem["cap"] == 1 and problem["cap_unit"] == "wte"
    assert "1.5000 WTE" in problem["detail"]
    # Another month, or after one is withdrawn, there is room again.
    await draft(pcn, third["post_id"], "2024-11")
    assert (await act(pcn, first["id"], "withdraw")).status_code == 200
    assert (await act(pcn, third["id"], "submit")).status_code == 200


async def test_a_cap_is_judged_on_the_list_size_of_the_claims_year(
    admin: httpx.AsyncClient, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    # Advanced practitioners in 2023-24: 3 WTE below a list size of 100,000, 6 at or above it. The PCN
    # has 52,000 patients today, but its 2023-24 list size was 120,000: its 2023-24 cap is 6.
    body = {"weighted_population": "118000.5", "reference_date": "2023-01-01", "list_size": 120_000}
    put = await icb.put("/v1/pcns/U00001/weighted-populations/2023-24", json=body)
    assert put.status_code == 200, put.text
    assert put.json()["list_size"] == 120_000
    await top_up(icb, 5_000_000, fy="2023-24")
    ap = {"role_code": "advanced_practitioner", "afc_band": "8a", "start_date": "2023-04-01"}
    claims = [await draft(pcn, await new_post(pcn, **ap), "2024-01") for _ in range(4)]
    for claim in claims:  # 4 WTE: over 3, within 6
        assert (await act(pcn, claim["id"], "submit")).status_code == 200, claim
    # A corrected list size for the year, 90,000, makes its cap 3 (the replaced one stays in the history).
    put = await icb.put("/v1/pcns/U00001/weighted-populations/2023-24", json={**body, "list_size": 90_000})
    assert put.json()["history"][0]["list_size"] == 120_000
    fifth = await draft(pcn, await new_post(pcn, **ap), "2024-02")
    assert (await act(pcn, fifth["id"], "submit")).status_code == 200  # February: nothing else counted
    sixth = await new_post(pcn, **ap)
    refused = await pcn.post("/v1/claims/preview", json={"post_id": sixth, "month": "2024-01", **AMOUNTS})
    problem = assert_problem(refused, 409, "role-cap-exceeded")
    assert problem["cap"] == 3 and "list size 90000" in problem["detail"]


async def test_submitting_more_than_is_available_is_refused_and_writes_nothing(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, budget_db_url: str
) -> None:
    await top_up(icb, OCT_CAP - 1)
    claim = await draft(pcn, await new_post(pcn))
    preview = assert_problem(
        await pcn.post("/v1/claims/preview", json={"post_id": claim["post_id"], "month": "2024-10", **AMOUNTS}),
        409,
        "duplicate-claim",
    )
    assert "budget-exceeded" in [c["code"] for c in preview["checks"]]
    postings_before = posting_count(budget_db_url)
    problem = assert_problem(await act(pcn, claim["id"], "submit"), 409, "budget-exceeded")
    assert problem["available_pence"] == OCT_CAP - 1
    assert posting_count(budget_db_url) == postings_before
    assert (await pcn.get(f"/v1/claims/{claim['id']}")).json()["status"] == "draft"
    await top_up(icb, 1)
    assert (await act(pcn, claim["id"], "submit")).json()["status"] == "submitted"
    assert (await pot(icb))["available_pence"] == 0


async def test_preview_computes_and_stores_nothing(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, budget_db_url: str
) -> None:
    await top_up(icb, 600_000)
    post_id = await new_post(pcn)
    response = await pcn.post("/v1/claims/preview", json={"post_id": post_id, "month": "2024-10", **AMOUNTS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reimbursable_pence"] == OCT_CAP and body["available_pence"] == 600_000 and body["fits_budget"] is True
    assert "id" not in body and claim_count(budget_db_url) == 0


async def test_reject_and_withdraw_release_the_hold(icb: httpx.AsyncClient, pcn: httpx.AsyncClient) -> None:
    await top_up(icb, 2_000_000)
    post_id = await new_post(pcn)
    september, october = await draft(pcn, post_id, "2024-09"), await draft(pcn, post_id)
    for claim in (september, october):
        assert (await act(pcn, claim["id"], "submit")).status_code == 200
    assert (await pot(icb))["held_pence"] == 519_500 + OCT_CAP
    rejected = await act(icb, september["id"], "reject", {"reason": "Salary evidence missing"})
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["history"][-1] == {
        "status": "rejected",
        "action": "reject",
        "at": rejected.json()["history"][-1]["at"],
        "by": "QHM digital team",
        "reason": "Salary evidence missing",
    }
    withdrawn = await act(pcn, october["id"], "withdraw")
    assert withdrawn.json()["status"] == "withdrawn"
    after = await pot(icb)
    assert after["held_pence"] == 0 and after["available_pence"] == 2_000_000


@pytest.mark.parametrize(
    ("status_path", "action", "body"),
    [
        ([], "approve", None),
        ([], "pay", {"payment_reference": "X"}),
        ([], "reject", {"reason": "no"}),
        (["submit"], "submit", None),
        (["submit", "approve"], "withdraw", None),
        (["submit", "approve"], "reject", {"reason": "late"}),
        (["submit", "approve", "pay"], "approve", None),
    ],
)
async def test_a_transition_from_the_wrong_status_is_a_conflict(
    admin: httpx.AsyncClient, pcn: httpx.AsyncClient, status_path: list[str], action: str, body: Any
) -> None:
    await top_up(admin, 1_000_000)
    claim = await draft(pcn, await new_post(pcn))
    for step in status_path:
        extra = {"payment_reference": "P1"} if step == "pay" else None
        assert (await act(admin, claim["id"], step, extra)).status_code == 200
    problem = assert_problem(await act(admin, claim["id"], action, body), 409, "invalid-claim-transition")
    assert problem["claim_id"] == claim["id"]


async def test_an_idempotent_submit_holds_once_and_replays(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, budget_db_url: str
) -> None:
    await top_up(icb, 1_000_000)
    claim = await draft(pcn, await new_post(pcn))
    first = await act(pcn, claim["id"], "submit", **{"Idempotency-Key": "submit-1"})
    again = await act(pcn, claim["id"], "submit", **{"Idempotency-Key": "submit-1"})
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert (await pot(icb))["held_pence"] == OCT_CAP
    # The same key on another action of the same client is another operation; on the same action
    # with another body it is refused.
    paid_key = {"Idempotency-Key": "pay-1"}
    assert (await act(icb, claim["id"], "approve")).status_code == 200
    assert (await act(icb, claim["id"], "pay", {"payment_reference": "A"}, **paid_key)).status_code == 200
    assert_problem(
        await act(icb, claim["id"], "pay", {"payment_reference": "B"}, **paid_key), 422, "idempotency-key-reused"
    )
    replay = await act(icb, claim["id"], "pay", {"payment_reference": "A"}, **paid_key)
    assert replay.status_code == 200 and replay.json()["payment_reference"] == "A"
    assert (await pot(icb))["paid_pence"] == OCT_CAP


async def test_a_draft_is_edited_with_if_match(pcn: httpx.AsyncClient) -> None:
    claim = await draft(pcn, await new_post(pcn), salary_pence=100_000, employer_ni_pence=0, employer_pension_pence=0)
    path = f"/v1/claims/{claim['id']}"
    assert_problem(await pcn.patch(path, json={"salary_pence": 200_000}), 428, "precondition-required")
    assert_problem(
        await pcn.patch(path, json={"salary_pence": 200_000}, headers={"If-Match": '"claim-999-v1"'}),
        412,
        "precondition-failed",
    )
    etag = (await pcn.get(path)).headers["etag"]
    edited = await pcn.patch(path, json={"salary_pence": 200_000}, headers={"If-Match": etag})
    assert edited.status_code == 200, edited.text
    assert edited.json()["reimbursable_pence"] == 200_000 and edited.json()["employer_ni_pence"] == 0
    assert edited.headers["etag"] != etag
    assert [h["action"] for h in edited.json()["history"]] == ["create", "edit"]
    assert_problem(
        await pcn.patch(path, json={"supplier_fee_pence": 10}, headers={"If-Match": edited.headers["etag"]}),
        422,
        "supplier-fee-not-allowed",
    )
    await act(pcn, claim["id"], "withdraw")
    current = (await pcn.get(path)).headers["etag"]
    assert_problem(
        await pcn.patch(path, json={"salary_pence": 1}, headers={"If-Match": current}), 409, "invalid-claim-transition"
    )


async def test_adjustments_correct_a_paid_claim_both_ways(icb: httpx.AsyncClient, pcn: httpx.AsyncClient) -> None:
    await top_up(icb, 1_000_000)
    small = {"salary_pence": 300_000, "employer_ni_pence": 30_000, "employer_pension_pence": 40_000}
    claim = await draft(pcn, await new_post(pcn), **small)
    for step, body in (("submit", None), ("approve", None), ("pay", {"payment_reference": "P1"})):
        assert (await act(pcn if step == "submit" else icb, claim["id"], step, body)).status_code == 200
    assert (await pot(icb))["paid_pence"] == 370_000

    # The PCN under-claimed: the corrected figures come to more (capped at 548,650).
    corrected = {**AMOUNTS, "reason": "pension was left out"}
    response = await pcn.post(f"/v1/claims/{claim['id']}/adjustments", json=corrected)
    assert response.status_code == 201, response.text
    up = response.json()
    assert up["kind"] == "adjustment" and up["adjusts_claim_id"] == claim["id"] and up["status"] == "submitted"
    assert up["reimbursable_pence"] == OCT_CAP and up["amount_pence"] == OCT_CAP - 370_000
    assert up["history"][0]["reason"] == "pension was left out"
    assert (await pot(icb))["held_pence"] == OCT_CAP - 370_000
    assert_problem(
        await pcn.post(f"/v1/claims/{claim['id']}/adjustments", json={**small, "reason": "again"}),
        409,
        "adjustment-pending",
    )
    for step, body in (("approve", None), ("pay", {"payment_reference": "P2"})):
        assert (await act(icb, up["id"], step, body)).status_code == 200
    assert (await pot(icb))["paid_pence"] == OCT_CAP

    # Then the ICB finds an overpayment: a negative adjustment recovers it when it is paid.
    lower = {"salary_pence": 400_000, "employer_ni_pence": 0, "employer_pension_pence": 0, "reason": "overtime not due"}
    down = (await icb.post(f"/v1/claims/{claim['id']}/adjustments", json=lower)).json()
    assert down["amount_pence"] == 400_000 - OCT_CAP
    assert (await pot(icb))["held_pence"] == 0  # a recovery holds nothing
    for step, body in (("approve", None), ("pay", {"payment_reference": "RECOVERY-1"})):
        assert (await act(icb, down["id"], step, body)).status_code == 200
    final = await pot(icb)
    assert final["paid_pence"] == 400_000 and final["available_pence"] == 1_000_000 - 400_000
    assert_problem(
        await pcn.post(f"/v1/claims/{claim['id']}/adjustments", json={**lower, "reason": "same"}),
        422,
        "adjustment-not-needed",
    )
    assert_problem(await pcn.post(f"/v1/claims/{down['id']}/adjustments", json=lower), 409, "invalid-claim-transition")


async def test_who_may_do_what_with_claims(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
    practice: httpx.AsyncClient,
) -> None:
    await top_up(icb, 1_000_000)
    post_id = await new_post(pcn)
    body = {"post_id": post_id, "month": "2024-10", **AMOUNTS}
    # Writes: a post or claim the client may not read is 404, as if there were none; one it reads
    # but whose action its kind may not take is 403.
    for client in (icb, dashboard):
        assert_problem(await client.post("/v1/claims", json=body), 403, "forbidden")
    for client in (other_pcn, practice):
        assert_problem(await client.post("/v1/claims", json=body), 404, "post-not-found")
    claim = await draft(pcn, post_id)
    cid = claim["id"]
    for client in (icb, dashboard):
        assert_problem(await act(client, cid, "submit"), 403, "forbidden")
    assert_problem(await act(other_pcn, cid, "submit"), 404, "claim-not-found")
    assert (await act(pcn, cid, "submit")).status_code == 200
    for client in (pcn, dashboard):
        assert_problem(await act(client, cid, "approve"), 403, "forbidden")
    for client in (other_icb, other_pcn):
        assert_problem(await act(client, cid, "approve"), 404, "claim-not-found")
    # Reads: in scope answers, out of scope is 404, as if there were no such claim.
    for client in (admin, icb, pcn, dashboard, national):
        assert (await client.get(f"/v1/claims/{cid}")).status_code == 200
    for client in (other_icb, other_pcn, practice):
        assert_problem(await client.get(f"/v1/claims/{cid}"), 404, "claim-not-found")
    assert [c["id"] for c in (await icb.get("/v1/claims")).json()["data"]] == [cid]
    assert (await other_icb.get("/v1/claims")).json()["data"] == []
    assert_problem(await practice.get("/v1/claims"), 403, "forbidden")


async def test_claims_list_filters_and_csv(pcn: httpx.AsyncClient) -> None:
    post_id = await new_post(pcn)
    september, october = await draft(pcn, post_id, "2024-09"), await draft(pcn, post_id)
    await act(pcn, september["id"], "withdraw")
    assert [c["id"] for c in (await pcn.get("/v1/claims?month=2024-10")).json()["data"]] == [october["id"]]
    assert [c["id"] for c in (await pcn.get("/v1/claims?status=withdrawn")).json()["data"]] == [september["id"]]
    page = (await pcn.get("/v1/claims?limit=1")).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = (await pcn.get(f"/v1/claims?limit=1&cursor={page['next_cursor']}")).json()
    assert [c["id"] for c in rest["data"]] == [october["id"]]
    assert_problem(await pcn.get("/v1/claims?month=2024-13"), 422, "validation-error")
    response = await pcn.get("/v1/claims?format=csv&pcn_code=u00001")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["id"]) for r in rows] == [september["id"], october["id"]]
    assert rows[1]["reimbursable_pence"] == str(OCT_CAP) and rows[1]["rate_period_annual_max_pence"] == "6583800"


async def test_a_roles_outage_fails_claim_writes_cleanly(
    budget_db_url: str, pcn: httpx.AsyncClient, icb: httpx.AsyncClient
) -> None:
    await top_up(icb, 1_000_000)
    post_id = await new_post(pcn)
    claim = await draft(pcn, post_id, "2024-09")
    closed = RoleCatalogue.over_http("http://127.0.0.1:9", gateway_secret=DEV_GATEWAY_SECRET, timeout_s=1)
    down = create_app(BudgetSettings(database_url=budget_db_url), configure_logs=False, catalogue=closed)
    before = (claim_count(budget_db_url), posting_count(budget_db_url))
    async with asgi_client(down, principal=PCN_PRINCIPAL) as client:
        body = {"post_id": post_id, "month": "2024-10", **AMOUNTS}
        for response in (
            await client.post("/v1/claims", json=body),
            await client.post("/v1/claims/preview", json=body),
            await client.post(f"/v1/claims/{claim['id']}/submit"),
        ):
            assert_problem(response, 503, "roles-unavailable")
        assert (await client.get(f"/v1/claims/{claim['id']}")).status_code == 200  # reads need no rates
    assert (claim_count(budget_db_url), posting_count(budget_db_url)) == before
    assert (await pcn.get(f"/v1/claims/{claim['id']}")).json()["status"] == "draft"


async def test_bad_claim_input_is_a_422_that_writes_nothing(pcn: httpx.AsyncClient, budget_db_url: str) -> None:
    post_id = await new_post(pcn)
    for change in (
        {"month": "2024-1"},
        {"month": "2024-00"},
        {"salary_pence": -1},
        {"salary_pence": 1.5},
        {"salary_pence": "100"},
        {"salary_pence": True},
        {"post_id": 0},
        {"unexpected": 1},
    ):
        body = {"post_id": post_id, "month": "2024-10", **AMOUNTS, **change}
        assert_problem(await pcn.post("/v1/claims", json=body), 422, "validation-error")
    assert_problem(
        await pcn.post("/v1/claims", json={"post_id": 999, "month": "2024-10", **AMOUNTS}), 404, "post-not-found"
    )
    assert claim_count(budget_db_url) == 0


def claim_count(url: str) -> int:
    return _count(url, Claim)


def posting_count(url: str) -> int:
    return _count(url, Posting)


def _count(url: str, model: Any) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()
