"""Who made a change is recorded and shown by the client's display name (security probe, issue 9),
on SQLite and PostgreSQL.

A client id is a login name at the gateway's token endpoint: shown to other tenants (a claim's
history read by the ICB, a ledger read by a dashboard), it would hand them half a credential. So
every record of who did something (``created_by``, ``updated_by``, ``set_by``, ``replaced_by``,
``opened_by``, ``closed_by``, a claim's history ``by``, a funding rate's ``source``, a posting's
``created_by``) holds ``Principal.actor``, the display name; identity (scope, idempotency keys)
stays on the id. Every write path of the service runs below as named clients, and then neither any
answer nor any recorded column holds a client id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String, Text, create_engine, select

from arrs_kit.principal import Principal
from arrs_kit.testing import asgi_client
from budget.models import BudgetBase, idempotency_keys

from .factories import POST

ADMIN = Principal(kind="admin", client_id="cl_9f1c0admin0login", name="NHS England ARRS team")
ICB = Principal(kind="icb", client_id="cl_77b2icb0login", org_codes=("QHM",), name="QHM digital team")
PCN = Principal(kind="pcn", client_id="cl_3d4epcn0login", org_codes=("U00001",), name="Riverside PCN manager")
IDS = (ADMIN.client_id, ICB.client_id, PCN.client_id)
NAMES = {ADMIN.name, ICB.name, PCN.name}

AMOUNTS = {"salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}


@pytest.fixture
async def clients(budget_app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with (
        asgi_client(budget_app, principal=ADMIN) as admin,
        asgi_client(budget_app, principal=ICB) as icb,
        asgi_client(budget_app, principal=PCN) as pcn,
    ):
        yield {"admin": admin, "icb": icb, "pcn": pcn}


class Calls:
    """Every answer, kept to look for client ids in."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any = None, *, expect: int = 200, **kw: Any
    ) -> dict[str, Any]:
        response = await client.request(method, path, json=body, **kw)
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        self.texts.append(response.text)
        answer: dict[str, Any] = response.json()
        return answer


async def test_every_record_of_who_shows_the_display_name_never_the_client_id(
    clients: dict[str, httpx.AsyncClient], budget_db_url: str
) -> None:
    call = Calls()
    admin, icb, pcn = clients["admin"], clients["icb"], clients["pcn"]

    icb_row = await call(admin, "POST", "/v1/icbs", {"code": "QHM", "name": "North East"}, expect=201)
    assert icb_row["created_by"] == ADMIN.name
    rates = {"arrs_per_weighted_patient": "30.125"}
    rate = await call(admin, "PUT", "/v1/funding-rates/2030-31", rates, expect=201)
    assert (rate["updated_by"], rate["source"]) == (ADMIN.name, f"Set through the API by {ADMIN.name}")
    rate = await call(admin, "PUT", "/v1/funding-rates/2030-31", {"arrs_per_weighted_patient": "30.5"})
    assert (rate["updated_by"], rate["source"]) == (ADMIN.name, f"Set through the API by {ADMIN.name}")

    new_pcn = {
        "code": "U00001",
        "name": "Riverside",
        "icb_code": "QHM",
        "practice_codes": ["A81001", "A81002"],
        "list_size": 50_000,
        "effective_date": "2024-04-01",
    }
    made = await call(icb, "POST", "/v1/pcns", new_pcn, expect=201)
    assert (made["created_by"], made["updated_by"]) == (ICB.name, ICB.name)
    assert {m["opened_by"] for m in made["membership_history"]} == {ICB.name}
    etag = {"If-Match": f'"pcn-U00001-v{1}"'}
    changed = await call(
        icb, "PATCH", "/v1/pcns/U00001", {"practice_codes": ["A81001"], "effective_date": "2024-06-01"}, headers=etag
    )
    assert changed["updated_by"] == ICB.name
    assert [m["closed_by"] for m in changed["membership_history"] if m["valid_to"]] == [ICB.name]

    path = "/v1/pcns/U00001/weighted-populations/2024-25"
    await call(icb, "PUT", path, {"weighted_population": "1000.000", "reference_date": "2024-01-01"})
    wp = await call(admin, "PUT", path, {"weighted_population": "1000000.500", "reference_date": "2024-01-01"})
    assert wp["set_by"] == ADMIN.name
    assert [(h["set_by"], h["replaced_by"]) for h in wp["history"]] == [(ICB.name, ADMIN.name)]
    await call(icb, "POST", "/v1/pcns/U00001/budgets/2024-25/allocate", expect=201)
    top_up = {"pot": "arrs", "amount_pence": 5_000_000, "reason": "Agreed top-up"}
    allocation = await call(icb, "POST", "/v1/pcns/U00001/budgets/2024-25/allocations", top_up, expect=201)
    assert allocation["posting"]["created_by"] == ICB.name

    post = await call(pcn, "POST", "/v1/posts", POST, expect=201)
    assert (post["created_by"], post["updated_by"]) == (PCN.name, PCN.name)
    post = await call(admin, "PATCH", f"/v1/posts/{post['id']}", {"display_name": "Renamed"}, headers={"If-Match": "*"})
    assert post["updated_by"] == ADMIN.name
    terms = {"effective_from": "2024-09-01", "hours_per_week": "30"}
    post = await call(admin, "POST", f"/v1/posts/{post['id']}/terms", terms, expect=201)
    assert [t["created_by"] for t in post["terms"]] == [PCN.name, ADMIN.name]

    claim = await call(pcn, "POST", "/v1/claims", {"post_id": post["id"], "month": "2024-10", **AMOUNTS}, expect=201)
    cid = claim["id"]
    edited = {"salary_pence": 440_000}
    await call(pcn, "PATCH", f"/v1/claims/{cid}", edited, headers={"If-Match": f'"claim-{cid}-v1"'})
    await call(pcn, "POST", f"/v1/claims/{cid}/submit")
    await call(icb, "POST", f"/v1/claims/{cid}/approve")
    paid = await call(icb, "POST", f"/v1/claims/{cid}/pay", {"payment_reference": "BACS-1"})
    assert [(h["action"], h["by"]) for h in paid["history"]] == [
        ("create", PCN.name),
        ("edit", PCN.name),
        ("submit", PCN.name),
        ("approve", ICB.name),
        ("pay", ICB.name),
    ]
    assert (paid["created_by"], paid["updated_by"]) == (PCN.name, ICB.name)
    lower = {"salary_pence": 200_000, "employer_ni_pence": 20_000, "employer_pension_pence": 30_000, "reason": "r"}
    adjustment = await call(pcn, "POST", f"/v1/claims/{cid}/adjustments", lower, expect=201)
    assert (adjustment["created_by"], adjustment["history"][0]["by"]) == (PCN.name, PCN.name)

    plan_path = "/v1/pcns/U00001/workforce-plans/2024-25"
    line = {"role_code": "clinical_pharmacist", "phase": 1, "start_month": "2024-10", "planned_wte": "1.00"}
    plan = await call(pcn, "PUT", plan_path, {"lines": [line]}, expect=201)
    assert (plan["created_by"], plan["updated_by"]) == (PCN.name, PCN.name)
    plan = await call(
        admin,
        "PUT",
        plan_path,
        {"lines": [{**line, "planned_wte": "2.00"}]},
        headers={"If-Match": '"workforce-plan-U00001-2024-25-v1"'},
    )
    assert plan["updated_by"] == ADMIN.name
    assert [(h["set_by"], h["replaced_by"]) for h in plan["history"]] == [(PCN.name, ADMIN.name)]

    # What the PCN's ICB and the PCN read back: the ledger, the PCN, the claims, the posts.
    for client in (icb, pcn):
        ledger = await call(client, "GET", "/v1/pcns/U00001/ledger", params={"limit": 500})
        assert {p["created_by"] for p in ledger["data"]} <= NAMES
        for read in ("/v1/pcns/U00001", "/v1/claims", "/v1/posts", plan_path, "/v1/icbs", "/v1/funding-rates"):
            await call(client, "GET", read)
        csv = await client.get("/v1/pcns/U00001/ledger", params={"format": "csv", "limit": 500})
        call.texts.append(csv.text)

    for text in call.texts:
        for client_id in IDS:
            assert client_id not in text, f"{client_id} shown: {text[:300]}"

    # Nor is one stored: every column that records who, and every free text, holds names only (the
    # idempotency keys are identity, kept per client id, and never shown; none were sent here).
    engine = create_engine(budget_db_url)
    try:
        with engine.connect() as conn:
            for table in BudgetBase.metadata.sorted_tables:
                if table.name == idempotency_keys.name:
                    continue
                columns = [c for c in table.columns if isinstance(c.type, String | Text)]
                for row in conn.execute(select(*columns)) if columns else []:
                    for value in row:
                        assert not any(client_id in str(value) for client_id in IDS), f"{table.name}: {value}"
    finally:
        engine.dispose()


async def test_a_name_longer_than_the_column_is_cut_not_refused(budget_app: FastAPI) -> None:
    long = Principal(kind="admin", client_id="cl_long", name="N" * 200)  # the gateway allows 200 characters
    async with asgi_client(budget_app, principal=long) as client:
        response = await client.post("/v1/icbs", json={"code": "QHM", "name": "North East"})
    assert response.status_code == 201, response.text
    assert response.json()["created_by"] == "N" * 128
