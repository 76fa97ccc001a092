"""What the budget tests make again and again, made one way: a post's body, funding for a pot, a
post, a draft claim and a step of its life, and a rate period published in the roles service.

Test modules import it relatively (``from .factories import POST``): the suite imports with
importlib, which names each test module after its path."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from arrs_kit.testing import GatewaySigner

FY = "2024-25"
PCN_CODE = "U00001"

POST: dict[str, Any] = {
    "pcn_code": PCN_CODE,
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A81001",
    "practice_codes": ["A81001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Clinical pharmacist 1",
}
"""A full-time clinical pharmacist of PCN U00001 (practice A81001) from the start of 2024-25."""

AMOUNTS = {"salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}
"""What the PCN paid for a post in a month, unless a test says otherwise."""


def post_body(**changes: Any) -> dict[str, Any]:
    """:data:`POST` with ``changes``."""
    return {**POST, **changes}


def add_rate(
    roles_client: TestClient,
    role_code: str,
    annual_max_pence: int,
    effective_from: str = "2021-04-01",
    afc_band: str | None = None,
) -> None:
    """Publish a rate period in the roles service (the seeded catalogue has no figure for some roles)."""
    body = {
        **({"afc_band": afc_band} if afc_band else {}),
        "geography": "national",
        "effective_from": effective_from,
        "annual_max_pence": annual_max_pence,
        "provenance": "published",
        "source": "test figure",
    }
    response = roles_client.post(f"/v1/roles/{role_code}/rates", json=body, auth=GatewaySigner())
    assert response.status_code == 201, response.text


async def top_up(
    client: httpx.AsyncClient, amount: int, *, pot: str = "arrs", pcn: str = PCN_CODE, fy: str = FY
) -> None:
    body = {"pot": pot, "amount_pence": amount, "reason": "test funding"}
    response = await client.post(f"/v1/pcns/{pcn}/budgets/{fy}/allocations", json=body)
    assert response.status_code == 201, response.text


async def new_post(client: httpx.AsyncClient, **changes: Any) -> int:
    """A post of :data:`POST` with ``changes``; its id."""
    response = await client.post("/v1/posts", json=post_body(**changes))
    assert response.status_code == 201, response.text
    post_id: int = response.json()["id"]
    return post_id


async def draft(client: httpx.AsyncClient, post_id: int, month: str = "2024-10", /, **amounts: int) -> dict[str, Any]:
    """A draft claim at :data:`AMOUNTS` with ``amounts``; its body."""
    response = await client.post("/v1/claims", json={"post_id": post_id, "month": month, **AMOUNTS, **amounts})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def act(
    client: httpx.AsyncClient, claim_id: int, action: str, body: Any = None, **headers: str
) -> httpx.Response:
    """A step of a claim's life (``submit``, ``approve``, ``reject``, ``pay``, ``withdraw``)."""
    return await client.post(f"/v1/claims/{claim_id}/{action}", json=body, headers=headers)
