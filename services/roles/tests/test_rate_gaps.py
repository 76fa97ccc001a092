"""``GET /v1/rates/gaps``: what the catalogue lacks, per role, geography and claim month (domain §4),
on the seeded catalogue and after a rate period is loaded."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from arrs_kit.testing import assert_problem

FY: dict[str, Any] = {"fy": "2024-25", "limit": 500}
ALL_YEAR = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]


async def gaps(client: httpx.AsyncClient, **params: Any) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    query: dict[str, Any] = {**FY, **params}
    while True:
        response = await client.get("/v1/rates/gaps", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["fy"] == "2024-25"
        rows += [(r["role_code"], r["geography"], r["month"]) for r in body["data"]]
        if not body["next_cursor"]:
            return rows
        query["cursor"] = body["next_cursor"]


def months(rows: list[tuple[str, str, str]], role: str, geography: str) -> list[str]:
    return [m for r, g, m in rows if (r, g) == (role, geography)]


async def test_the_seeded_catalogue_shows_what_it_lacks(pcn: httpx.AsyncClient) -> None:
    rows = await gaps(pcn)
    assert rows == sorted(rows) and len(rows) == len(set(rows))
    # A role with no London rows lacks both London columns all year; its national rate is there.
    assert months(rows, "dietitian", "outer_london") == ALL_YEAR
    assert months(rows, "dietitian", "inner_london") == ALL_YEAR
    assert months(rows, "dietitian", "national") == []
    # The ARRS GP is claimable from October 2024, in one London column: nothing before is a gap.
    assert [g for r, g, _m in rows if r == "general_medical_practitioner"] == []
    # A role with no rate at all lacks every column; a role added in 2025-26 is no gap in 2024-25.
    assert {g for r, g, _m in rows if r == "mental_health_practitioner_adult"} == {
        "national",
        "outer_london",
        "inner_london",
    }
    assert months(rows, "mental_health_practitioner_adult", "national") == ALL_YEAR
    assert not [r for r in rows if r[0] == "consultant_nurse_primary_care"]
    # Filters, paging (every row once, in order) and the same rows as CSV.
    assert await gaps(pcn, geography="national", role_code="Mental_Health_Practitioner_Adult") == [
        ("mental_health_practitioner_adult", "national", m) for m in ALL_YEAR
    ]
    assert await gaps(pcn, limit=7) == rows
    text = (await pcn.get("/v1/rates/gaps", params={**FY, "format": "csv", "role_code": "dietitian"})).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["role_code"], r["geography"], r["month"]) for r in table] == [
        ("dietitian", g, m) for g in ("inner_london", "outer_london") for m in ALL_YEAR
    ]
    assert table[0]["role_name"] == "Dietitian"


async def test_a_loaded_rate_period_closes_the_gap_from_its_month(
    admin: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    period = {
        "geography": "national",
        "effective_from": "2024-10-01",
        "annual_max_pence": 4_500_000,
        "provenance": "published",
        "source": "A test annex",
    }
    added = await admin.post("/v1/roles/mental_health_practitioner_adult/rates", json=period)
    assert added.status_code == 201, added.text
    rows = await gaps(pcn, role_code="mental_health_practitioner_adult")
    assert months(rows, "mental_health_practitioner_adult", "national") == ALL_YEAR[:6]
    assert months(rows, "mental_health_practitioner_adult", "outer_london") == ALL_YEAR


async def test_a_bad_year_is_refused(pcn: httpx.AsyncClient) -> None:
    assert_problem(await pcn.get("/v1/rates/gaps", params={"fy": "2024-26"}), 422, "invalid-financial-year")
    assert_problem(await pcn.get("/v1/rates/gaps"), 422, "validation-error")
    assert_problem(await pcn.get("/v1/rates/gaps", params={**FY, "geography": "wales"}), 422, "validation-error")
