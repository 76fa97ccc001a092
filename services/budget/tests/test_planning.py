"""Forecast, headroom and workforce plans in-process, on SQLite and PostgreSQL, against the real roles
service and its seeded catalogue: hand-worked figures to the penny, drafts and part months, months
that cannot be claimed or projected, headroom rounded down, plans replaced under If-Match with their
history, the comparison of plan, posts and claims, scope, bad input and a roles outage.

Rates used (seeded, national, 1 WTE): clinical pharmacist 6,234,000 a year from 1 July 2023 (519,500 a
month) and 6,583,800 from 1 October 2024 (548,650 a month); GP 9,246,200 from 1 October 2024, when the
role became claimable. After every test the ledger is verified."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app
from budget.models import WorkforcePlan, WorkforcePlanHistory, WorkforcePlanLine
from budget.service.planning.headroom import affordable_centi as _affordable_centi
from budget.service.planning.headroom import cost_pence as _cost

from . import factories
from .factories import FY, add_rate, new_post, top_up

DB = pytest.mark.usefixtures("register", "ledger_verified")
"""The register in the test's own database, and the ledger verified after the test."""

FORECAST = f"/v1/pcns/U00001/forecast?fy={FY}"
PLAN = f"/v1/pcns/U00001/workforce-plans/{FY}"
PCN_PRINCIPAL = Principal(kind="pcn", client_id="test-pcn", org_codes=("U00001",))

# Paid 530,000 a month: above the 519,500 cap before October 2024, below the 548,650 one after.
PAID = {"salary_pence": 430_000, "employer_ni_pence": 40_000, "employer_pension_pence": 60_000}
MONTHS = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]


async def draft(client: httpx.AsyncClient, post_id: int, month: str, **amounts: int) -> int:
    """A draft at :data:`PAID` unless ``amounts`` are given; its id."""
    claim_id: int = (await factories.draft(client, post_id, month, **(amounts or PAID)))["id"]
    return claim_id


async def act(client: httpx.AsyncClient, claim_id: int, action: str, body: Any = None) -> None:
    response = await factories.act(client, claim_id, action, body)
    assert response.status_code == 200, response.text


async def get_json(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_month(post: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["month"]: m for m in post["months"]}


# Forecast


@DB
async def test_the_forecast_to_the_penny(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, dashboard: httpx.AsyncClient
) -> None:
    await top_up(icb, 10_000_000)
    # A: in post all year. April paid, May submitted, June a draft; each 530,000 paid, capped at 519,500.
    a = await new_post(pcn)
    april = await draft(pcn, a, "2024-04")
    await act(pcn, april, "submit")
    await act(icb, april, "approve")
    await act(icb, april, "pay", {"payment_reference": "BACS-1"})
    await act(pcn, await draft(pcn, a, "2024-05"), "submit")
    june = await draft(pcn, a, "2024-06")
    # B: 0.6 WTE from 15 November; one part-month claim (200,000 paid, capped at 175,568) and no whole month.
    b = await new_post(pcn, hours_per_week="22.5", start_date="2024-11-15", display_name="CP 2")
    await act(
        pcn,
        await draft(pcn, b, "2024-11", salary_pence=200_000, employer_ni_pence=0, employer_pension_pence=0),
        "submit",
    )
    # C: full time, leaves on 10 August, never claimed. D: in the 2019 baseline. E: a mental health
    # practitioner, a role the seeded catalogue has no rate for.
    c = await new_post(pcn, leave_date="2024-08-10", display_name="CP 3")
    d = await new_post(pcn, baseline=True, display_name="CP baseline")
    e = await new_post(
        pcn, role_code="mental_health_practitioner_adult", afc_band="3", display_name="MHP", start_date="2024-01-01"
    )
    # A post that left before the year and one of another PCN are not in it.
    await new_post(pcn, start_date="2023-04-01", leave_date="2024-03-31", display_name="Gone")

    body = await get_json(dashboard, FORECAST)
    assert (body["pcn_code"], body["fy"]) == ("U00001", FY)
    posts = {p["post_id"]: p for p in body["posts"]}
    assert list(posts) == [a, b, c, d, e]

    # A: the basis is June's draft (the latest whole month claimed, drafts included): actual 530,000.
    # June projects at the draft's 519,500; July-September min(530,000, 519,500) = 519,500 × 3 =
    # 1,558,500; October-March min(530,000, 548,650) = 530,000 × 6 = 3,180,000.
    # 519,500 + 1,558,500 + 3,180,000 = 5,258,000 projected; April (paid) + May (held) = 1,039,000 claimed.
    pa = posts[a]
    assert pa["basis"] == {"source": "last_claim", "claim_id": june, "month": "2024-06", "actual_pence": 530_000}
    months = by_month(pa)
    assert [months[m]["state"] for m in MONTHS[:4]] == ["claimed", "claimed", "draft", "projected"]
    assert months["2024-04"]["claim_status"] == "paid" and months["2024-04"]["claimed_pence"] == 519_500
    assert months["2024-04"]["projected_pence"] == 0
    assert months["2024-06"]["flags"] == ["draft"]
    assert (months["2024-06"]["claim_id"], months["2024-06"]["projected_pence"]) == (june, 519_500)
    assert months["2024-07"]["cap_pence"] == 519_500 and months["2024-07"]["projected_pence"] == 519_500
    assert months["2024-10"]["cap_pence"] == 548_650 and months["2024-10"]["projected_pence"] == 530_000
    assert months["2024-10"]["funding_share"] == "1" and months["2024-10"]["reason"] is None
    assert (pa["projected_pence"], pa["claimed_pence"], pa["reasons"], pa["pot"]) == (5_258_000, 1_039_000, [], "arrs")

    # B: only a part-month claim, so the basis is the cap. April-October: not in post. November claimed
    # (6,583,800 × 0.6 × 16/30 ÷ 12 = 175,568 exactly, held). December-March at the cap,
    # 6,583,800 × 0.6 ÷ 12 = 329,190 × 4 = 1,316,760.
    pb = posts[b]
    assert pb["basis"]["source"] == "cap" and pb["wte"] == "0.6000"
    months = by_month(pb)
    assert {months[m]["reason"] for m in MONTHS[:7]} == {"post-not-active"}
    assert {months[m]["state"] for m in MONTHS[:7]} == {"not_claimable"}
    assert (months["2024-11"]["state"], months["2024-11"]["claimed_pence"]) == ("claimed", 175_568)
    assert months["2024-11"]["days_in_post"] == 16
    assert [months[m]["projected_pence"] for m in MONTHS[8:]] == [329_190] * 4
    assert (pb["projected_pence"], pb["claimed_pence"], pb["reasons"]) == (1_316_760, 175_568, ["post-not-active"])

    # C: at the cap April-July, 519,500 × 4 = 2,078,000; August 10 days of 31:
    # 6,234,000 × 10/31 ÷ 12 = 167,580.65 → 167,581; from September, not in post.
    pc = posts[c]
    months = by_month(pc)
    assert months["2024-08"]["days_in_post"] == 10 and months["2024-08"]["projected_pence"] == 167_581
    assert months["2024-09"]["state"] == "not_claimable" and months["2024-09"]["projected_pence"] == 0
    assert pc["projected_pence"] == 2_245_581

    # D: the baseline is never claimable; E: no rate for an MHP's band 3, so not projected (and says so)
    # rather than failing.
    assert posts[d]["projected_pence"] == 0 and posts[d]["reasons"] == ["post-in-baseline"]
    assert {m["state"] for m in posts[d]["months"]} == {"not_claimable"}
    pe = posts[e]
    assert pe["projected_pence"] == 0 and pe["reasons"] == ["rate-not-published"]
    assert {(m["state"], m["cap_pence"]) for m in pe["months"]} == {("unprojected", None)}

    # The pot: paid 519,500; held 519,500 (A, May) + 175,568 (B, November) = 695,068;
    # projected 5,258,000 + 1,316,760 + 2,245,581 = 8,820,341; outturn 519,500 + 695,068 + 8,820,341 =
    # 10,034,909; lapse 10,000,000 − 10,034,909 = −34,909: an overspend risk.
    assert body["pots"] == [
        {
            "pot": "arrs",
            "allocated_pence": 10_000_000,
            "available_pence": 10_000_000 - 519_500 - 695_068,
            "held_pence": 695_068,
            "approved_pence": 0,
            "paid_pence": 519_500,
            "lapsed_pence": 0,
            "projected_pence": 8_820_341,
            "projected_outturn_pence": 10_034_909,
            "projected_lapse_pence": -34_909,
            "unprojected_months": 12,
        }
    ]

    # Headroom here: 8,785,432 available − 8,820,341 committed < 0, so nothing is affordable; E's months
    # are not in the committed sum, and the answer says so.
    room = await get_json(pcn, "/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01")
    assert (room["available_pence"], room["committed_pence"], room["headroom_pence"]) == (
        8_785_432,
        8_820_341,
        -34_909,
    )
    assert (room["affordable_wte"], room["affordable_cost_pence"]) == ("0.00", 0)
    assert room["complete"] is False and room["unprojected_post_ids"] == [e]

    # The same forecast as CSV for dashboards: one row per post and month.
    response = await dashboard.get(f"{FORECAST}&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5 * 12
    june_row = next(r for r in rows if r["post_id"] == str(a) and r["month"] == "2024-06")
    assert (june_row["state"], june_row["projected_pence"], june_row["flags"]) == ("draft", "519500", "draft")


@DB
async def test_the_forecast_reads_as_many_statements_for_four_posts_as_for_one(
    budget_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """Everything a PCN's forecast needs is read once per PCN, never per post or per post-month."""
    engine = budget_app.state.db.engine

    async def statements() -> int:
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = await admin.get(FORECAST)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.text
        return len(seen)

    await top_up(admin, 10_000_000)
    first = await new_post(admin)
    await draft(admin, first, "2024-05")
    one = await statements()
    for n in range(3):
        post_id = await new_post(admin, display_name=f"Clinical pharmacist {n + 2}")
        await draft(admin, post_id, "2024-06")
    assert await statements() == one


@DB
async def test_a_withdrawn_claim_leaves_its_month_to_the_projection(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 5_000_000)
    post_id = await new_post(pcn, start_date="2025-02-01")
    february = await draft(pcn, post_id, "2025-02", salary_pence=400_000, employer_ni_pence=0, employer_pension_pence=0)
    await act(pcn, february, "withdraw")
    post = (await get_json(pcn, FORECAST))["posts"][0]
    # No live claim: the basis is the cap and February and March project at 548,650 each.
    assert post["basis"]["source"] == "cap"
    assert [(m["state"], m["projected_pence"]) for m in post["months"][-2:]] == [
        ("projected", 548_650),
        ("projected", 548_650),
    ]
    assert post["projected_pence"] == 1_097_300


@DB
async def test_the_forecast_flags_estimated_rates_and_a_used_cap(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, roles_client: TestClient
) -> None:
    await top_up(icb, 2_000_000)
    lead = {"role_code": "digital_transformation_lead", "afc_band": "8a"}  # 1 post per PCN in 2024-25
    first = await new_post(pcn, **lead, start_date="2024-10-01", leave_date="2024-10-31")
    second = await new_post(pcn, **lead, start_date="2024-10-01", leave_date="2024-11-30")
    await act(pcn, await draft(pcn, first, "2024-10"), "submit")
    # A first contact physiotherapist's 2024-25 rate is an estimate in the seeded catalogue.
    physio = await new_post(pcn, role_code="first_contact_physiotherapist", start_date="2025-03-01")
    posts = {p["post_id"]: p for p in (await get_json(pcn, FORECAST))["posts"]}
    months = by_month(posts[second])
    # October: the cap (1 post) is used by the first post's submitted claim, so a claim would be refused
    # today; the month is still projected (the estimate 7,214,100 ÷ 12 = 601,175) and flagged. November
    # is not over the cap.
    assert (months["2024-10"]["projected_pence"], months["2024-10"]["flags"]) == (
        601_175,
        ["estimated-rate", "role-cap-exceeded"],
    )
    assert (months["2024-11"]["projected_pence"], months["2024-11"]["flags"]) == (601_175, ["estimated-rate"])
    march = by_month(posts[physio])["2025-03"]
    assert (march["projected_pence"], march["flags"]) == (548_650, ["estimated-rate"])
    room = await get_json(pcn, "/v1/pcns/U00001/headroom?role_code=digital_transformation_lead&from_month=2025-03")
    assert room["role_cap"] == {"unit": "wte", "limit": 1}


# Headroom


@DB
async def test_headroom_rounds_down_and_never_promises_money_that_is_not_there(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 5_000_000)
    await top_up(icb, 1_000_000, pot="arrs_gp")
    await new_post(pcn, hours_per_week="22.5")  # 0.6 WTE all year, never claimed: projected at its cap
    # Committed: 311,700 × 6 (April-September) + 329,190 × 6 (October-March) = 3,845,340;
    # headroom 5,000,000 − 3,845,340 = 1,154,660.
    # From January: 548,650 × 3 = 1,645,950 per WTE; 1,154,660 / 1,645,950 = 0.7015 → 0.70 WTE, whose
    # claims are 548,650 × 0.7 = 384,055 × 3 = 1,152,165 (0.71 would be 389,541.5 → 389,542 × 3 = 1,168,626).
    room = await get_json(pcn, "/v1/pcns/u00001/headroom?role_code=clinical_pharmacist&from_month=2025-01")
    assert room == {
        "pcn_code": "U00001",
        "fy": FY,
        "role_code": "clinical_pharmacist",
        "geography": "national",
        "from_month": "2025-01",
        "pot": "arrs",
        "available_pence": 5_000_000,
        "committed_pence": 3_845_340,
        "headroom_pence": 1_154_660,
        "cost_per_wte_pence": 1_645_950,
        "affordable_wte": "0.70",
        "affordable_cost_pence": 1_152_165,
        "estimated_rate": False,
        "complete": True,
        "unprojected_post_ids": [],
        "role_cap": None,
        "months": [
            {
                "month": month,
                "claimable": True,
                "rate_effective_from": "2024-10-01",
                "annual_max_pence": 6_583_800,
                "provenance": "published",
                "funding_share": "1.0",
                "cost_per_wte_pence": 548_650,
            }
            for month in ("2025-01", "2025-02", "2025-03")
        ],
    }
    # From September: 519,500 + 548,650 × 6 = 3,811,400 per WTE → 0.3029 → 0.30 WTE:
    # 155,850 + 164,595 × 6 = 1,143,420 (0.31: 161,045 + 170,081.5 → 170,082 × 6 = 1,181,537, too much).
    room = await get_json(pcn, "/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2024-09")
    assert (room["cost_per_wte_pence"], room["affordable_wte"], room["affordable_cost_pence"]) == (
        3_811_400,
        "0.30",
        1_143_420,
    )
    assert [m["annual_max_pence"] for m in room["months"]] == [6_234_000] + [6_583_800] * 6
    # A GP draws on the ring-fenced 2024-25 pot and is claimable from 1 October 2024 only: July to
    # September cost nothing. 9,246,200 ÷ 12 = 770,516.67 → 770,517 a month, × 6 = 4,623,102 per WTE;
    # 1,000,000 available → 0.21 WTE: 161,808.5 → 161,809 × 6 = 970,854 (0.22: 169,514 × 6 = 1,017,084).
    room = await get_json(pcn, "/v1/pcns/U00001/headroom?role_code=general_medical_practitioner&from_month=2024-07")
    assert (room["pot"], room["available_pence"], room["committed_pence"]) == ("arrs_gp", 1_000_000, 0)
    assert [m["claimable"] for m in room["months"]] == [False] * 3 + [True] * 6
    assert [m["cost_per_wte_pence"] for m in room["months"]] == [0] * 3 + [770_517] * 6
    assert (room["cost_per_wte_pence"], room["affordable_wte"], room["affordable_cost_pence"]) == (
        4_623_102,
        "0.21",
        970_854,
    )


@DB
async def test_headroom_at_a_half_funding_share(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, roles_client: TestClient
) -> None:
    add_rate(roles_client, "mental_health_practitioner_adult", 6_000_000, "2024-11-01", afc_band="7")
    await top_up(icb, 5_000_000)
    await new_post(pcn, hours_per_week="22.5")  # committed 3,845,340 as above: headroom 1,154,660
    # An MHP is reimbursed at half: 6,000,000 ÷ 12 × 0.5 = 250,000 a month per WTE, × 3 = 750,000;
    # 1,154,660 / 750,000 = 1.5395 → 1.53 WTE: 382,500 × 3 = 1,147,500 (1.54: 385,000 × 3 = 1,155,000).
    path = "/v1/pcns/U00001/headroom?role_code=mental_health_practitioner_adult&from_month=2025-01"
    room = await get_json(pcn, path + "&afc_band=7")
    assert {m["funding_share"] for m in room["months"]} == {"0.5"}
    assert (room["cost_per_wte_pence"], room["affordable_wte"], room["affordable_cost_pence"]) == (
        750_000,
        "1.53",
        1_147_500,
    )


def test_affordable_wte_is_the_most_whose_claims_fit() -> None:
    # Rounding each month half up can make n × (cost of 1 WTE) differ from the cost of n WTE; the search
    # answers the largest 0.01 step whose month-by-month claims fit, never one more.
    for annual in (1_205, 1_206, 1_207, 6_583_801, 9_246_200):
        for share in ("1", "0.5", "0.7"):
            terms = [(2025, 1, annual, share), (2025, 2, annual, share), (2025, 3, annual, share)]
            for headroom in (-5, 0, 1, 150, 301, 302, 303, 1_000, 99_999, 1_154_660):
                centi = _affordable_centi(headroom, terms)
                assert centi >= 0
                assert centi == 0 or _cost(terms, centi) <= headroom
                assert _cost(terms, centi + 1) > headroom


# Workforce plans

LINES: list[dict[str, Any]] = [
    {"role_code": "first_contact_physiotherapist", "planned_wte": "1", "phase": 2, "start_month": "2024-10"},
    {"role_code": "clinical_pharmacist", "planned_wte": "1.00", "phase": 1, "start_month": "2024-07"},
    {"role_code": "clinical_pharmacist", "planned_wte": "0.5", "phase": 2, "start_month": "2025-01", "note": "AfC 7"},
]


@DB
async def test_a_plan_is_created_then_replaced_under_if_match(
    pcn: httpx.AsyncClient, admin: httpx.AsyncClient, budget_db_url: str
) -> None:
    assert_problem(await pcn.get(PLAN), 404, "workforce-plan-not-found")
    # The first plan: no If-Match (there is nothing to match yet); 201 with its ETag.
    created = await pcn.put(PLAN, json={"lines": LINES})
    assert created.status_code == 201, created.text
    etag = created.headers["etag"]
    assert etag == '"workforce-plan-U00001-2024-25-v1"'
    assert created.headers["location"] == PLAN
    plan = created.json()
    assert (plan["version"], plan["created_by"], plan["updated_by"], plan["history"]) == (
        1,
        "Riverside PCN manager",
        "Riverside PCN manager",
        [],
    )
    # By phase, start month and role; WTE with two decimals.
    assert [(line["role_code"], line["planned_wte"], line["phase"], line["start_month"]) for line in plan["lines"]] == [
        ("clinical_pharmacist", "1.00", 1, "2024-07"),
        ("first_contact_physiotherapist", "1.00", 2, "2024-10"),
        ("clinical_pharmacist", "0.50", 2, "2025-01"),
    ]
    assert [line["note"] for line in plan["lines"]] == [None, None, "AfC 7"]
    got = await pcn.get(PLAN)
    assert got.json() == plan and got.headers["etag"] == etag

    replacement = {"lines": [{**LINES[1], "planned_wte": "2.25"}]}
    assert_problem(await pcn.put(PLAN, json=replacement), 428, "precondition-required")
    stale = {"If-Match": '"workforce-plan-U00001-2024-25-v0"'}
    assert_problem(await pcn.put(PLAN, json=replacement, headers=stale), 412, "precondition-failed")
    replaced = await admin.put(PLAN, json=replacement, headers={"If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == '"workforce-plan-U00001-2024-25-v2"'
    body = replaced.json()
    assert (body["version"], body["created_by"], body["updated_by"]) == (2, "Riverside PCN manager", "test-admin")
    assert [line["planned_wte"] for line in body["lines"]] == ["2.25"]
    [old] = body["history"]
    assert (old["version"], old["set_by"], old["replaced_by"]) == (1, "Riverside PCN manager", "test-admin")
    assert old["lines"] == plan["lines"]
    # The old ETag is stale now; the same lines again change nothing (same ETag, no more history).
    assert_problem(await pcn.put(PLAN, json=replacement, headers={"If-Match": etag}), 412, "precondition-failed")
    again = await pcn.put(PLAN, json=replacement, headers={"If-Match": "*"})
    assert again.status_code == 200 and again.headers["etag"] == '"workforce-plan-U00001-2024-25-v2"'
    assert len(again.json()["history"]) == 1
    # An If-Match on a year with no plan yet matches nothing.
    assert_problem(
        await pcn.put("/v1/pcns/U00001/workforce-plans/2025-26", json={"lines": []}, headers={"If-Match": etag}),
        412,
        "precondition-failed",
    )
    # The replaced plans are append-only, whatever code path tries.
    engine = create_engine(budget_db_url)
    try:
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(WorkforcePlanLine)).scalar_one() == 1
            assert session.execute(select(func.count()).select_from(WorkforcePlanHistory)).scalar_one() == 1
            with pytest.raises(DBAPIError):
                session.execute(text("UPDATE workforce_plan_history SET replaced_by = 'someone else'"))
            session.rollback()
            with pytest.raises(DBAPIError):
                session.execute(text("DELETE FROM workforce_plan_history"))
    finally:
        engine.dispose()


@DB
async def test_the_plan_is_compared_with_posts_and_claims(pcn: httpx.AsyncClient, icb: httpx.AsyncClient) -> None:
    await top_up(icb, 5_000_000)
    assert (await pcn.put(PLAN, json={"lines": LINES})).status_code == 201
    cp = await new_post(pcn, start_date="2024-07-01")  # 1 WTE
    await new_post(pcn, hours_per_week="15", leave_date="2024-06-30", display_name="Left")  # 0.4 WTE, left
    await new_post(pcn, hours_per_week="22.5", baseline=True, display_name="Baseline")  # not ARRS: left out
    await new_post(pcn, role_code="care_coordinator", afc_band="4", hours_per_week="30", display_name="CC")
    august, september = await draft(pcn, cp, "2024-08"), await draft(pcn, cp, "2024-09")
    await act(pcn, august, "submit")
    await act(pcn, await draft(pcn, cp, "2024-10"), "withdraw")  # withdrawn: not claimed
    assert september
    # 2024-25 is over, so the comparison is as of its last day and every line is due.
    plan = await get_json(icb, PLAN)
    assert plan["as_of"] == "2025-03-31"
    rows = {r["role_code"]: r for r in plan["comparison"]}
    assert list(rows) == ["care_coordinator", "clinical_pharmacist", "first_contact_physiotherapist"]
    # Pharmacists: 1.00 + 0.50 planned; 1.0 + 0.4 in post in the year, 1.0 on 31 March; the latest claimed
    # month is September (a draft counts; October was withdrawn), claiming 1.0 WTE;
    # August and September reimburse 519,500 each (530,000 paid, capped).
    assert rows["clinical_pharmacist"] == {
        "role_code": "clinical_pharmacist",
        "planned_wte": "1.5000",
        "planned_wte_due": "1.5000",
        "phases": [1, 2],
        "first_start_month": "2024-07",
        "posts_in_fy": 2,
        "in_post_wte": "1.4000",
        "in_post_wte_as_of": "1.0000",
        "claimed_month": "2024-09",
        "claimed_wte": "1.0000",
        "claimed_pence": 1_039_000,
        "gap_wte": "0.1000",
        "due_gap_wte": "0.5000",
        "claim_gap_wte": "0.0000",
        "status": "behind_plan",
    }
    physio = rows["first_contact_physiotherapist"]
    assert (physio["planned_wte"], physio["in_post_wte"], physio["gap_wte"], physio["status"]) == (
        "1.0000",
        "0.0000",
        "1.0000",
        "behind_plan",
    )
    coordinator = rows["care_coordinator"]
    assert (coordinator["planned_wte"], coordinator["in_post_wte"], coordinator["gap_wte"]) == (
        "0.0000",
        "0.8000",
        "-0.8000",
    )
    assert (coordinator["status"], coordinator["claimed_month"], coordinator["claim_gap_wte"]) == (
        "not_planned",
        None,
        "0.8000",
    )
    # Planning more than is in post: on plan; in post beyond the whole plan: above it.
    etag = (await pcn.get(PLAN)).headers["etag"]
    lines = [{"role_code": "clinical_pharmacist", "planned_wte": "0.5", "phase": 1, "start_month": "2024-04"}]
    replaced = await pcn.put(PLAN, json={"lines": lines}, headers={"If-Match": etag})
    rows = {r["role_code"]: r for r in replaced.json()["comparison"]}
    assert rows["clinical_pharmacist"]["status"] == "above_plan"
    # The comparison as CSV, one row per role, for dashboards.
    response = await icb.get(f"{PLAN}?format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["etag"] == '"workforce-plan-U00001-2024-25-v2"'
    csv_rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["pcn_code"], r["role_code"], r["status"]) for r in csv_rows] == [
        ("U00001", "care_coordinator", "not_planned"),
        ("U00001", "clinical_pharmacist", "above_plan"),
    ]
    assert csv_rows[1]["phases"] == "1" and csv_rows[1]["gap_wte"] == "-0.9000"


BAD_LINES: list[tuple[dict[str, Any], str]] = [
    ({"start_month": "2025-04"}, "month-outside-financial-year"),
    ({"start_month": "2024-03"}, "month-outside-financial-year"),
    ({"role_code": "no_such_role"}, "role-not-claimable"),
    ({"role_code": "general_medical_practitioner"}, "role-not-claimable"),  # claimable from 2024-10
    ({"phase": 5}, "validation-error"),
    ({"phase": 0}, "validation-error"),
    ({"phase": "1"}, "validation-error"),
    ({"planned_wte": "0"}, "validation-error"),
    ({"planned_wte": "0.00"}, "validation-error"),
    ({"planned_wte": "1.555"}, "validation-error"),
    ({"planned_wte": "100"}, "validation-error"),
    ({"planned_wte": 1.5}, "validation-error"),
    ({"planned_wte": "-1"}, "validation-error"),
    ({"start_month": "2024-13"}, "validation-error"),
    ({"role_code": "Clinical-Pharmacist"}, "validation-error"),
    ({"note": "bad\x00note"}, "validation-error"),
    ({"unexpected": 1}, "validation-error"),
]


@DB
async def test_a_bad_plan_is_a_422_that_writes_nothing(pcn: httpx.AsyncClient, budget_db_url: str) -> None:
    for line, code in BAD_LINES:
        body = {"lines": [{**LINES[1], **line}]}
        assert_problem(await pcn.put(PLAN, json=body), 422, code)
    assert plan_rows(budget_db_url) == 0


@DB
async def test_plan_input_checks_name_every_failing_line(pcn: httpx.AsyncClient, budget_db_url: str) -> None:
    lines = [LINES[0], {**LINES[1], "start_month": "2023-07"}, {**LINES[2], "role_code": "no_such_role"}]
    problem = assert_problem(await pcn.put(PLAN, json={"lines": lines}), 422, "month-outside-financial-year")
    assert [(c["line"], c["code"]) for c in problem["checks"]] == [
        (1, "month-outside-financial-year"),
        (2, "role-not-claimable"),
    ]
    twice = {"lines": [LINES[1], {**LINES[1], "planned_wte": "2"}]}  # one line per role and phase
    assert_problem(await pcn.put(PLAN, json=twice), 422, "validation-error")
    assert_problem(await pcn.put(PLAN, json={}), 422, "validation-error")
    assert_problem(await pcn.put(PLAN, json={"lines": [LINES[1]] * 201}), 422, "validation-error")
    bad_year = "/v1/pcns/U00001/workforce-plans/2024-26"
    assert_problem(await pcn.put(bad_year, json={"lines": []}), 422, "invalid-financial-year")
    assert_problem(await pcn.put("/v1/pcns/U00001/workforce-plans/2024", json={"lines": []}), 422, "validation-error")
    assert plan_rows(budget_db_url) == 0
    # An empty plan is a plan: nothing planned this year.
    assert (await pcn.put(PLAN, json={"lines": []})).status_code == 201


@DB
async def test_who_may_do_what_with_planning(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    budget_db_url: str,
) -> None:
    await new_post(pcn)
    # Writes: the PCN itself or an admin; those who read the PCN but may not set its plan 403; for
    # those who may not read it there is no such PCN (404).
    for client in (icb, dashboard, national):
        assert_problem(await client.put(PLAN, json={"lines": LINES}), 403, "forbidden")
    for client in (other_icb, other_pcn, practice):
        assert_problem(await client.put(PLAN, json={"lines": LINES}), 404, "pcn-not-found")
    response = await pcn.put("/v1/pcns/U00002/workforce-plans/2024-25", json={"lines": []})
    assert_problem(response, 404, "pcn-not-found")
    assert plan_rows(budget_db_url) == 0
    assert_problem(await admin.put("/v1/pcns/U09999/workforce-plans/2024-25", json={"lines": []}), 404, "pcn-not-found")
    assert (await pcn.put(PLAN, json={"lines": LINES})).status_code == 201
    assert (await admin.put("/v1/pcns/U00003/workforce-plans/2024-25", json={"lines": []})).status_code == 201
    # Reads: whoever may read the PCN; outside scope 404, as if there were no such PCN.
    paths = (PLAN, FORECAST, "/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01")
    for path in paths:
        for client in (admin, icb, pcn, dashboard, national):
            assert (await client.get(path)).status_code == 200, path
        for client in (other_icb, other_pcn, practice):
            assert_problem(await client.get(path), 404, "pcn-not-found")
        assert (await anonymous.get(path)).status_code == 401
    assert (await other_pcn.get("/v1/pcns/U00003/workforce-plans/2024-25")).status_code == 200
    assert_problem(await admin.get("/v1/pcns/U00002/workforce-plans/2024-25"), 404, "workforce-plan-not-found")


BAD_QUERIES: list[tuple[str, str]] = [
    ("/v1/pcns/U00001/forecast", "validation-error"),
    ("/v1/pcns/U00001/forecast?fy=2024-26", "invalid-financial-year"),
    ("/v1/pcns/U00001/forecast?fy=2024-255", "validation-error"),
    ("/v1/pcns/U00001/forecast?fy=1999-00", "invalid-financial-year"),
    ("/v1/pcns/X1/forecast?fy=2024-25", "validation-error"),
    ("/v1/pcns/U00001/headroom?from_month=2025-01", "validation-error"),
    ("/v1/pcns/U00001/headroom?role_code=clinical_pharmacist", "validation-error"),
    ("/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2024-13", "validation-error"),
    ("/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-1", "validation-error"),
    ("/v1/pcns/U00001/headroom?role_code=Clinical_Pharmacist&from_month=2025-01", "validation-error"),
    ("/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01&geography=mars", "validation-error"),
    ("/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2000-01", "invalid-financial-year"),
    ("/v1/pcns/U00001/headroom?role_code=no_such_role&from_month=2025-01", "role-not-claimable"),
    # Claimable from 1 October 2024 only: in no month of 2023-24.
    ("/v1/pcns/U00001/headroom?role_code=general_medical_practitioner&from_month=2023-06", "role-not-claimable"),
    # No national rate in the seeded catalogue; no `london` rate for a pharmacist (only the GP has one).
    ("/v1/pcns/U00001/headroom?role_code=mental_health_practitioner_adult&from_month=2025-01", "rate-not-published"),
    (
        "/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01&geography=london",
        "rate-not-published",
    ),
]


@DB
async def test_bad_forecast_and_headroom_queries_are_422(pcn: httpx.AsyncClient) -> None:
    for path, code in BAD_QUERIES:
        problem = assert_problem(await pcn.get(path), 422, code)
        if code == "rate-not-published":
            assert problem["months"] == ["2025-01", "2025-02", "2025-03"]


@DB
async def test_a_roles_outage_fails_planning_cleanly(
    budget_db_url: str, pcn: httpx.AsyncClient, icb: httpx.AsyncClient
) -> None:
    await top_up(icb, 1_000_000)
    await new_post(pcn)
    assert (await pcn.put(PLAN, json={"lines": LINES})).status_code == 201
    closed = RoleCatalogue.over_http("http://127.0.0.1:9", gateway_secret=DEV_GATEWAY_SECRET, timeout_s=1)
    down = create_app(BudgetSettings(database_url=budget_db_url), configure_logs=False, catalogue=closed)
    other_year = "/v1/pcns/U00001/workforce-plans/2025-26"
    async with asgi_client(down, principal=PCN_PRINCIPAL) as client:
        for response in (
            await client.get(FORECAST),
            await client.get("/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01"),
            await client.put(other_year, json={"lines": [{**LINES[1], "start_month": "2025-07"}]}),
        ):
            assert_problem(response, 503, "roles-unavailable")
        assert (await client.get(PLAN)).status_code == 200  # the plan and its comparison need no rates
    assert plan_rows(budget_db_url) == 1
    assert_problem(await pcn.get(other_year), 404, "workforce-plan-not-found")


def plan_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return int(session.execute(select(func.count()).select_from(WorkforcePlan)).scalar_one())
    finally:
        engine.dispose()
