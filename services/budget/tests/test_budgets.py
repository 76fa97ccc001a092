"""Funding rates, PCN budgets and the double-entry ledger in-process, on SQLite and PostgreSQL.

After every test the ledger is verified: each pot's balances recomputed from the postings must equal
the maintained balance rows.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from arrs_kit.testing import assert_problem
from budget.schemas.budgets import BudgetPage

FY = "2024-25"
BUDGET = f"/v1/pcns/U00001/budgets/{FY}"
ALLOCATE = f"{BUDGET}/allocate"
ALLOCATIONS = f"{BUDGET}/allocations"
LEDGER = "/v1/pcns/U00001/ledger"


pytestmark = pytest.mark.usefixtures("ledger_verified")


async def set_population(client: httpx.AsyncClient, value: str, *, pcn: str = "U00001", fy: str = FY) -> None:
    body = {"weighted_population": value, "reference_date": f"{fy[:4]}-01-01"}
    response = await client.put(f"/v1/pcns/{pcn}/weighted-populations/{fy}", json=body)
    assert response.status_code == 200, response.text


async def pots(client: httpx.AsyncClient, path: str = BUDGET) -> dict[str, dict[str, Any]]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return {p["pot"]: p for p in response.json()["pots"]}


async def postings(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(LEDGER, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.fixture
async def allocated(register: None, admin: httpx.AsyncClient) -> None:
    """U00001's 2024-25 budget from a weighted population of 10,000.5: arrs 22,895,145p (£22.894 ×
    10,000.5, half up) and arrs_gp 1,303,065p (£1.303 × 10,000.5)."""
    await set_population(admin, "10000.5")
    response = await admin.post(ALLOCATE)
    assert response.status_code == 201, response.text


# Funding rates


async def test_funding_rates_are_seeded_exactly(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/v1/funding-rates")
    assert response.status_code == 200, response.text
    rates = {
        r["fy"]: (r["arrs_per_weighted_patient"], r["arrs_gp_per_weighted_patient"]) for r in response.json()["data"]
    }
    # Years whose rate is not public yet (2021-22, 2022-23) are left out.
    assert rates == {
        "2020-21": ("7.131", None),
        "2023-24": ("22.671", None),
        "2024-25": ("22.894", "1.303"),
        "2025-26": ("26.631", None),
    }


async def test_admin_sets_and_replaces_a_years_rates(admin: httpx.AsyncClient) -> None:
    created = await admin.put("/v1/funding-rates/2026-27", json={"arrs_per_weighted_patient": "27.5"})
    assert created.status_code == 201, created.text
    assert created.json()["arrs_per_weighted_patient"] == "27.500"
    assert created.json()["arrs_gp_per_weighted_patient"] is None
    assert created.json()["updated_by"] == "test-admin"
    etag = created.headers["etag"]
    same = await admin.put("/v1/funding-rates/2026-27", json={"arrs_per_weighted_patient": "27.500"})
    assert same.status_code == 200 and same.headers["etag"] == etag
    body = {"arrs_per_weighted_patient": "27.612", "arrs_gp_per_weighted_patient": "1.5"}
    replaced = await admin.put("/v1/funding-rates/2026-27", json=body, headers={"If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["arrs_gp_per_weighted_patient"] == "1.500"
    stale = await admin.put("/v1/funding-rates/2026-27", json=body, headers={"If-Match": etag})
    assert_problem(stale, 412, "precondition-failed")
    page = (await admin.get("/v1/funding-rates", params={"limit": 2})).json()
    assert [r["fy"] for r in page["data"]] == ["2020-21", "2023-24"]
    rest = (await admin.get("/v1/funding-rates", params={"cursor": page["next_cursor"]})).json()
    assert [r["fy"] for r in rest["data"]] == ["2024-25", "2025-26", "2026-27"]
    csv_rows = list(csv.DictReader(io.StringIO((await admin.get("/v1/funding-rates?format=csv")).text)))
    assert csv_rows[-1]["arrs_per_weighted_patient"] == "27.612"


async def test_bad_rates_are_422_and_change_nothing(admin: httpx.AsyncClient) -> None:
    """One body FundingRatePut refuses; the 10 bad bodies this test sent are
    test_request_schemas.py::test_funding_rate_put_refuses."""
    body = {"arrs_per_weighted_patient": "0.000"}
    assert_problem(await admin.put("/v1/funding-rates/2024-25", json=body), 422, "validation-error")
    rates = {r["fy"]: r for r in (await admin.get("/v1/funding-rates")).json()["data"]}
    assert rates["2024-25"]["arrs_per_weighted_patient"] == "22.894"


async def test_rates_for_a_bad_year_are_422(admin: httpx.AsyncClient) -> None:
    response = await admin.put("/v1/funding-rates/2024-26", json={"arrs_per_weighted_patient": "1"})
    assert_problem(response, 422, "invalid-financial-year")


async def test_only_admins_set_rates_and_practice_systems_cannot_read_them(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient, practice: httpx.AsyncClient, dashboard: httpx.AsyncClient
) -> None:
    for client in (icb, pcn, practice, dashboard):
        response = await client.put("/v1/funding-rates/2024-25", json={"arrs_per_weighted_patient": "99"})
        assert_problem(response, 403, "forbidden")
    for client in (icb, pcn, dashboard):
        assert (await client.get("/v1/funding-rates")).status_code == 200
    assert_problem(await practice.get("/v1/funding-rates"), 403, "forbidden")


# Allocation by formula


async def test_allocate_posts_the_sums_once(allocated: None, admin: httpx.AsyncClient) -> None:
    first = await pots(admin)
    assert first["arrs"]["allocated_pence"] == first["arrs"]["available_pence"] == 22_895_145
    assert first["arrs_gp"]["allocated_pence"] == first["arrs_gp"]["available_pence"] == 1_303_065
    assert {p["held_pence"] + p["approved_pence"] + p["paid_pence"] + p["lapsed_pence"] for p in first.values()} == {0}
    ledger_before = await postings(admin)
    assert [
        (p["pot"], p["debit_account"], p["credit_account"], p["amount_pence"], p["kind"]) for p in ledger_before
    ] == [
        ("arrs", "funding", "available", 22_895_145, "allocation"),
        ("arrs_gp", "funding", "available", 1_303_065, "allocation"),
    ]
    assert all(p["created_by"] == "test-admin" for p in ledger_before)
    again = await admin.post(ALLOCATE)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["weighted_population"] == "10000.500" and body["reference_date"] == "2024-01-01"
    assert body["sums"] == [
        {"pot": "arrs", "rate_per_weighted_patient": "22.894", "sum_pence": 22_895_145},
        {"pot": "arrs_gp", "rate_per_weighted_patient": "1.303", "sum_pence": 1_303_065},
    ]
    assert {p["pot"]: p for p in body["pots"]} == first
    assert await postings(admin) == ledger_before


async def test_a_half_penny_rounds_up(register: None, admin: httpx.AsyncClient) -> None:
    await set_population(admin, "2.5")  # £22.894 × 2.5 = 5,723.5p; £1.303 × 2.5 = 325.75p
    response = await admin.post(ALLOCATE)
    assert response.status_code == 201, response.text
    assert {s["pot"]: s["sum_pence"] for s in response.json()["sums"]} == {"arrs": 5_724, "arrs_gp": 326}


async def test_a_year_without_a_gp_rate_has_one_pot(register: None, admin: httpx.AsyncClient) -> None:
    await set_population(admin, "50000", fy="2025-26")
    response = await admin.post("/v1/pcns/U00001/budgets/2025-26/allocate")
    assert response.status_code == 201, response.text
    assert [(p["pot"], p["allocated_pence"]) for p in response.json()["pots"]] == [("arrs", 133_155_000)]
    top_up = {"pot": "arrs_gp", "amount_pence": 100, "reason": "GP top-up"}
    response = await admin.post("/v1/pcns/U00001/budgets/2025-26/allocations", json=top_up)
    assert_problem(response, 422, "pot-not-available")


async def test_a_corrected_population_posts_the_difference(allocated: None, admin: httpx.AsyncClient) -> None:
    await set_population(admin, "10000")
    response = await admin.post(ALLOCATE)
    assert response.status_code == 201, response.text
    assert {p["pot"]: p["allocated_pence"] for p in response.json()["pots"]} == {
        "arrs": 22_894_000,
        "arrs_gp": 1_303_000,
    }
    last = (await postings(admin))[-2:]
    assert [(p["debit_account"], p["credit_account"], p["amount_pence"]) for p in last] == [
        ("available", "funding", 1_145),
        ("available", "funding", 65),
    ]
    assert (await admin.post(ALLOCATE)).status_code == 200


async def test_allocate_needs_a_population_and_a_rate(register: None, admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.post(ALLOCATE), 422, "weighted-population-missing")
    await set_population(admin, "1000", fy="2022-23")  # no public rate for 2022-23
    assert_problem(await admin.post("/v1/pcns/U00001/budgets/2022-23/allocate"), 422, "funding-rate-missing")
    assert_problem(await admin.post("/v1/pcns/U00001/budgets/2024-26/allocate"), 422, "invalid-financial-year")
    assert_problem(await admin.post("/v1/pcns/U09999/budgets/2024-25/allocate"), 404, "pcn-not-found")
    assert await postings(admin) == []
    assert await pots(admin) == {}


# Allocations by amount


async def test_top_up_and_reduction(allocated: None, icb: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    up = await icb.post(ALLOCATIONS, json={"pot": "arrs", "amount_pence": 500_000, "reason": "Agreed top-up"})
    assert up.status_code == 201, up.text
    posting = up.json()["posting"]
    assert (posting["debit_account"], posting["credit_account"], posting["amount_pence"]) == (
        "funding",
        "available",
        500_000,
    )
    assert (posting["kind"], posting["reason"], posting["created_by"]) == (
        "top_up",
        "Agreed top-up",
        "QHM digital team",
    )
    assert {p["pot"]: p["available_pence"] for p in up.json()["budget"]["pots"]}["arrs"] == 23_395_145
    down = await icb.post(ALLOCATIONS, json={"pot": "arrs_gp", "amount_pence": -3_065, "reason": "Correction"})
    assert down.status_code == 201, down.text
    assert down.json()["posting"]["kind"] == "reduction"
    assert (down.json()["posting"]["debit_account"], down.json()["posting"]["credit_account"]) == (
        "available",
        "funding",
    )
    now = await pots(admin)
    assert (now["arrs"]["allocated_pence"], now["arrs_gp"]["allocated_pence"]) == (23_395_145, 1_300_000)
    assert now["arrs_gp"]["available_pence"] == 1_300_000


async def test_a_reduction_below_available_is_refused_and_writes_nothing(
    allocated: None, admin: httpx.AsyncClient
) -> None:
    before_pots, before_ledger = await pots(admin), await postings(admin)
    body = {"pot": "arrs_gp", "amount_pence": -1_303_066, "reason": "Too much"}
    refused = await admin.post(ALLOCATIONS, json=body)
    problem = assert_problem(refused, 409, "budget-exceeded")
    assert problem["available_pence"] == 1_303_065
    assert await pots(admin) == before_pots
    assert await postings(admin) == before_ledger
    # Exactly what is available may go.
    body["amount_pence"] = -1_303_065
    assert (await admin.post(ALLOCATIONS, json=body)).status_code == 201
    assert (await pots(admin))["arrs_gp"]["available_pence"] == 0


async def test_a_reduction_of_an_empty_pot_is_refused(register: None, admin: httpx.AsyncClient) -> None:
    response = await admin.post(ALLOCATIONS, json={"pot": "arrs", "amount_pence": -1, "reason": "x"})
    assert_problem(response, 409, "budget-exceeded")
    assert await postings(admin) == []
    assert await pots(admin) == {}


async def test_bad_allocations_are_422(register: None, admin: httpx.AsyncClient) -> None:
    """One body AllocationCreate refuses; the 10 bad bodies this test sent are
    test_request_schemas.py::test_allocation_create_refuses."""
    body = {"pot": "arrs", "amount_pence": 0, "reason": "x"}
    assert_problem(await admin.post(ALLOCATIONS, json=body), 422, "validation-error")
    assert await postings(admin) == []


async def test_an_idempotency_key_replays_and_refuses_reuse(allocated: None, icb: httpx.AsyncClient) -> None:
    body = {"pot": "arrs", "amount_pence": 12_345, "reason": "Top-up"}
    headers = {"Idempotency-Key": "top-up-1"}
    first = await icb.post(ALLOCATIONS, json=body, headers=headers)
    assert first.status_code == 201, first.text
    replayed = await icb.post(ALLOCATIONS, json=body, headers=headers)
    assert replayed.status_code == 201 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == first.json()
    reused = await icb.post(ALLOCATIONS, json={**body, "amount_pence": 1}, headers=headers)
    assert_problem(reused, 422, "idempotency-key-reused")
    top_ups = [p for p in await postings(icb) if p["kind"] == "top_up"]
    assert len(top_ups) == 1
    # A refused request releases its key: after a 409 the same key may be used again.
    too_much = {"pot": "arrs", "amount_pence": -(10**10), "reason": "x"}
    assert_problem(
        await icb.post(ALLOCATIONS, json=too_much, headers={"Idempotency-Key": "k2"}), 409, "budget-exceeded"
    )
    ok = await icb.post(ALLOCATIONS, json=too_much | {"amount_pence": -1}, headers={"Idempotency-Key": "k2"})
    assert ok.status_code == 201, ok.text


# Reading budgets and the ledger


async def test_ledger_pages_filters_and_csv(allocated: None, admin: httpx.AsyncClient) -> None:
    await set_population(admin, "1000", fy="2023-24")
    assert (await admin.post("/v1/pcns/U00001/budgets/2023-24/allocate")).status_code == 201
    for n in range(3):
        body = {"pot": "arrs", "amount_pence": n + 1, "reason": f"=Top-up {n}"}
        assert (await admin.post(ALLOCATIONS, json=body)).status_code == 201
    everything = await postings(admin)
    assert [p["id"] for p in everything] == sorted(p["id"] for p in everything)
    assert len(everything) == 6
    assert [p["fy"] for p in await postings(admin, fy="2023-24")] == ["2023-24"]
    page = (await admin.get(LEDGER, params={"limit": 4, "fy": FY})).json()
    assert len(page["data"]) == 4 and page["next_cursor"]
    rest = (await admin.get(LEDGER, params={"limit": 4, "fy": FY, "cursor": page["next_cursor"]})).json()
    assert [p["id"] for p in page["data"] + rest["data"]] == [p["id"] for p in everything if p["fy"] == FY]
    assert rest["next_cursor"] is None
    text_csv = await admin.get(LEDGER, headers={"Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(text_csv.text)))
    assert [int(r["amount_pence"]) for r in rows] == [p["amount_pence"] for p in everything]
    assert rows[-1]["reason"] == "'=Top-up 2"  # a formula is not run by a spreadsheet
    assert_problem(await admin.get(LEDGER, params={"fy": "2024"}), 422, "validation-error")
    assert_problem(await admin.get(LEDGER, params={"fy": "2024-26"}), 422, "invalid-financial-year")
    assert_problem(await admin.get(LEDGER, params={"cursor": "bm9wZQ"}), 422, "invalid-cursor")
    assert_problem(await admin.get("/v1/pcns/U00001/budgets/2024-26"), 422, "invalid-financial-year")


async def test_who_may_read_and_change_budgets(
    allocated: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    for client in (admin, icb, pcn, dashboard, national):
        assert (await pots(client))["arrs"]["available_pence"] == 22_895_145
        assert len(await postings(client)) == 2
    for client in (other_icb, other_pcn, practice):
        assert_problem(await client.get(BUDGET), 404, "pcn-not-found")
        assert_problem(await client.get(LEDGER), 404, "pcn-not-found")
    body = {"pot": "arrs", "amount_pence": 1, "reason": "x"}
    for client in (pcn, dashboard, national):  # they see the PCN but may not change its budget
        assert_problem(await client.post(ALLOCATE), 403, "forbidden")
        assert_problem(await client.post(ALLOCATIONS, json=body), 403, "forbidden")
    for client in (other_icb, other_pcn, practice):  # for them it does not exist
        assert_problem(await client.post(ALLOCATE), 404, "pcn-not-found")
        assert_problem(await client.post(ALLOCATIONS, json=body), 404, "pcn-not-found")
    assert (await icb.post(ALLOCATE)).status_code == 200
    assert len(await postings(admin)) == 2


# The database's own guarantees


async def test_postings_are_append_only_and_balances_never_negative(
    allocated: None, admin: httpx.AsyncClient, budget_db_url: str
) -> None:
    engine = create_engine(budget_db_url)
    try:
        for statement in ("UPDATE posting SET amount_pence = 1", "DELETE FROM posting"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        for statement in (
            "UPDATE budget_balance SET available_pence = -1, allocated_pence = allocated_pence - available_pence - 1",
            "UPDATE budget_balance SET available_pence = available_pence + 1",
        ):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    assert len(await postings(admin)) == 2


async def test_every_pcns_budget_for_a_year_in_one_list(
    allocated: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    response = await admin.get("/v1/budgets", params={"fy": "2024-25"})
    listed = response.json()
    assert [b["pcn_code"] for b in listed["data"]] == ["U00001", "U00002", "U00003"]
    # Answered from plain rows: byte for byte what the declared page model makes of them.
    assert BudgetPage.model_validate_json(response.content).model_dump_json(by_alias=True) == response.text
    one = (await admin.get("/v1/pcns/U00001/budgets/2024-25")).json()
    # The same pots as the PCN's own budget, with the PCN as its list shows it.
    assert listed["data"][0] == {**one, "pcn_name": "Riverside PCN", "icb_code": "QHM", "list_size": 50_000}
    by_icb = (await admin.get("/v1/budgets", params={"fy": "2024-25", "icb_code": "qox"})).json()["data"]
    assert [b["pcn_code"] for b in by_icb] == ["U00003"]
    # Scope: an ICB sees its PCNs, a PCN itself; an empty year has no pots.
    assert [b["pcn_code"] for b in (await icb.get("/v1/budgets", params={"fy": "2024-25"})).json()["data"]] == [
        "U00001",
        "U00002",
    ]
    assert [
        (b["pcn_code"], b["pots"]) for b in (await pcn.get("/v1/budgets", params={"fy": "2030-31"})).json()["data"]
    ] == [("U00001", [])]
    page = (await admin.get("/v1/budgets", params={"fy": "2024-25", "limit": 2})).json()
    rest = (await admin.get("/v1/budgets", params={"fy": "2024-25", "cursor": page["next_cursor"]})).json()
    assert [b["pcn_code"] for b in page["data"] + rest["data"]] == ["U00001", "U00002", "U00003"]
    assert_problem(await admin.get("/v1/budgets", params={"fy": "2024-26"}), 422, "invalid-financial-year")
    csv_text = (await admin.get("/v1/budgets", params={"fy": "2024-25", "format": "csv"})).text
    assert csv_text.splitlines()[0].startswith("pcn_code,fy,pots")
