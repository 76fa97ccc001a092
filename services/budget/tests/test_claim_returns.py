"""Monthly claim returns (domain §6): a PCN's month as one return, declared, submitted whole, decided
by line or whole, paid with one reference and exported for reconciliation."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from arrs_kit.testing import assert_problem

from .factories import draft, new_post, top_up

pytestmark = pytest.mark.usefixtures("register", "ledger_verified")

BUDGET = "/v1/pcns/U00001/budgets/2024-25"
RETURN = {"pcn_code": "U00001", "month": "2024-11", "payee_code": "A81001"}
DECLARATION = {"declaration": "I declare these staff were employed as stated and none is in the 2019 baseline."}
PAID = {"salary_pence": 300_000, "employer_ni_pence": 30_000, "employer_pension_pence": 40_000}


async def pot(client: httpx.AsyncClient) -> dict[str, Any]:
    return next(p for p in (await client.get(BUDGET)).json()["pots"] if p["pot"] == "arrs")


async def london_month(pcn: httpx.AsyncClient) -> tuple[int, int]:
    """An inner London pharmacist and the PCN's first mental health practitioner (band 7, outer
    London), each with a November 2024 draft of 370,000 paid."""
    pharmacist = await new_post(pcn, geography="inner_london", display_name="Pharmacist", staff_reference="HR-1")
    mhp = await new_post(
        pcn,
        role_code="mental_health_practitioner_adult",
        afc_band="7",
        geography="outer_london",
        display_name="MHP",
        staff_reference="HR-2",
    )
    first = await draft(pcn, pharmacist, "2024-11", **PAID)
    second = await draft(pcn, mhp, "2024-11", **PAID)
    # Inner London pharmacist from 1 October 2024: 7,631,300 ÷ 12 = 635,941.67 > 370,000: all of it.
    assert (first["cap_pence"], first["reimbursable_pence"]) == (635_942, 370_000)
    # MHP band 7, outer London (estimated): 7,114,300 ÷ 12 = 592,858.33; the first MHP at half:
    # 370,000 × 0.5 = 185,000.
    assert (second["cap_pence"], second["funding_share"], second["reimbursable_pence"]) == (592_858, "0.5", 185_000)
    return first["id"], second["id"]


async def test_a_london_month_declared_submitted_decided_and_paid_as_one_return(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 1_000_000)
    pharmacist, mhp = await london_month(pcn)
    made = await pcn.post("/v1/claim-returns", json=RETURN)
    assert made.status_code == 201, made.text
    ret = made.json()
    path = f"/v1/claim-returns/{ret['id']}"
    assert made.headers["location"] == path
    assert (ret["status"], [line["id"] for line in ret["lines"]]) == ("open", [pharmacist, mhp])
    assert ret["totals"] == {"lines": 2, "reimbursable_pence": 555_000, "by_status": {"draft": 2}}
    assert_problem(await pcn.post("/v1/claim-returns", json=RETURN), 409, "claim-return-exists")

    assert_problem(await pcn.post(f"{path}/submit"), 422, "return-not-declared")
    declared = (await pcn.post(f"{path}/declare", json=DECLARATION)).json()
    assert declared["declaration"] == DECLARATION["declaration"] and declared["declared_by"] == "Riverside PCN manager"
    assert declared["declared_at"]

    submitted = await pcn.post(f"{path}/submit", headers={"Idempotency-Key": "return-2024-11"})
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "submitted" and body["totals"]["by_status"] == {"submitted": 2}
    assert (await pot(icb))["held_pence"] == 555_000
    replay = await pcn.post(f"{path}/submit", headers={"Idempotency-Key": "return-2024-11"})
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == body
    assert_problem(await pcn.post(f"{path}/submit"), 409, "invalid-return-transition")

    # The ICB approves the pharmacist, cannot pay while the MHP awaits a decision, rejects it, pays.
    assert_problem(await pcn.post(f"{path}/approve", json={}), 403, "forbidden")
    approved = await icb.post(f"{path}/approve", json={"claim_ids": [pharmacist]})
    assert approved.json()["totals"]["by_status"] == {"approved": 1, "submitted": 1}
    waiting = assert_problem(
        await icb.post(f"{path}/pay", json={"payment_reference": "BACS-1"}), 409, "return-lines-undecided"
    )
    assert waiting["claim_ids"] == [mhp]
    assert_problem(
        await icb.post(f"{path}/reject", json={"claim_ids": [999_999], "reason": "x"}), 409, "invalid-return-transition"
    )
    rejected = await icb.post(f"{path}/reject", json={"claim_ids": [mhp], "reason": "No MHP agreement on file"})
    assert rejected.json()["totals"] == {
        "lines": 2,
        "reimbursable_pence": 370_000,
        "by_status": {"approved": 1, "rejected": 1},
    }
    paid = await icb.post(f"{path}/pay", json={"payment_reference": "BACS-2024-11"})
    assert paid.status_code == 200, paid.text
    final = paid.json()
    assert (final["status"], final["payment_reference"]) == ("paid", "BACS-2024-11")
    assert [(line["status"], line["payment_reference"]) for line in final["lines"]] == [
        ("paid", "BACS-2024-11"),
        ("rejected", None),
    ]
    balance = await pot(icb)
    assert (balance["paid_pence"], balance["held_pence"], balance["available_pence"]) == (370_000, 0, 630_000)

    # The reconciliation export: one line per employee, every input and intermediate.
    exported = await icb.get(path, params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["staff_reference"], r["role_code"], r["status"]) for r in rows] == [
        ("HR-1", "clinical_pharmacist", "paid"),
        ("HR-2", "mental_health_practitioner_adult", "rejected"),
    ]
    assert rows[0]["rate_geography"] == "inner_london" and rows[0]["annual_max_pence"] == "7631300"
    assert rows[1]["funding_share"] == "0.5" and rows[1]["reimbursable_pence"] == "185000"
    assert rows[0]["payment_reference"] == "BACS-2024-11" and rows[0]["wte"] == "1"
    listed = (await icb.get("/v1/claim-returns", params={"pcn_code": "u00001", "status": "paid"})).json()
    assert [r["id"] for r in listed["data"]] == [ret["id"]]


async def test_a_return_is_submitted_whole_or_not_at_all(icb: httpx.AsyncClient, pcn: httpx.AsyncClient) -> None:
    await top_up(icb, 400_000)  # the pharmacist's 370,000 fits; the MHP's 185,000 after it does not
    _, mhp = await london_month(pcn)
    ret = (await pcn.post("/v1/claim-returns", json=RETURN)).json()
    path = f"/v1/claim-returns/{ret['id']}"
    await pcn.post(f"{path}/declare", json=DECLARATION)
    refused = assert_problem(await pcn.post(f"{path}/submit"), 409, "return-refused")
    assert [(line["claim_id"], [c["code"] for c in line["checks"]]) for line in refused["lines"]] == [
        (mhp, ["budget-exceeded"])
    ]
    after = (await pcn.get(path)).json()
    assert after["status"] == "open" and after["totals"]["by_status"] == {"draft": 2}
    assert (await pot(icb))["held_pence"] == 0  # the pharmacist's line is not held either
    await top_up(icb, 155_000)
    assert (await pcn.post(f"{path}/submit")).json()["totals"]["by_status"] == {"submitted": 2}
    assert (await pot(icb))["held_pence"] == 555_000


async def test_returns_are_scoped_as_claims(
    icb: httpx.AsyncClient, other_icb: httpx.AsyncClient, pcn: httpx.AsyncClient, other_pcn: httpx.AsyncClient
) -> None:
    ret = (await pcn.post("/v1/claim-returns", json=RETURN)).json()
    path = f"/v1/claim-returns/{ret['id']}"
    assert_problem(await icb.post("/v1/claim-returns", json={**RETURN, "month": "2024-12"}), 403, "forbidden")
    assert_problem(await other_pcn.post("/v1/claim-returns", json=RETURN), 403, "forbidden")
    for stranger in (other_icb, other_pcn):
        assert_problem(await stranger.get(path), 404, "claim-return-not-found")
        assert_problem(await stranger.post(f"{path}/declare", json=DECLARATION), 404, "claim-return-not-found")
    assert_problem(await icb.post(f"{path}/declare", json=DECLARATION), 403, "forbidden")
    assert (await icb.get(path)).status_code == 200
    assert (await other_icb.get("/v1/claim-returns")).json()["data"] == []
    assert_problem(await pcn.post(f"{path}/declare", json={"declaration": "short"}), 422, "validation-error")
    # A month of no financial year the scheme counts (2000-01 falls in 1999-00) writes nothing.
    early = await pcn.post("/v1/claim-returns", json={**RETURN, "month": "2000-01"})
    assert_problem(early, 422, "invalid-financial-year")
    assert len((await pcn.get("/v1/claim-returns")).json()["data"]) == 1
    assert_problem(await pcn.post(f"{path}/submit"), 422, "return-not-declared")
    await pcn.post(f"{path}/declare", json=DECLARATION)
    assert_problem(await pcn.post(f"{path}/submit"), 422, "return-empty")
