"""Concurrent admins adding the same period: exactly one wins, on real connections."""

from __future__ import annotations

import asyncio

import httpx

PERIOD = {
    "geography": "national",
    "effective_from": "2026-04-01",
    "annual_max_pence": 6_900_000,
    "provenance": "published",
    "source": "Network Contract DES 2026/27",
}


async def test_racing_adds_of_one_period_create_it_once(admin: httpx.AsyncClient) -> None:
    # Sync endpoints run in the thread pool, so these requests hold separate database connections
    # at the same time; the role row lock (FOR UPDATE / BEGIN IMMEDIATE) must serialise them.
    responses = await asyncio.gather(
        *(
            admin.post("/v1/roles/clinical_pharmacist/rates", json={**PERIOD, "annual_max_pence": 6_900_000 + i})
            for i in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    detail = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    starting = [
        p for p in detail["rate_periods"] if p["effective_from"] == "2026-04-01" and p["geography"] == "national"
    ]
    assert len(starting) == 1
