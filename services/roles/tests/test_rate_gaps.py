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


Gap = tuple[str, str, str | None, str]


async def gaps(client: httpx.AsyncClient, fy: str = "2024-25", **params: Any) -> list[Gap]:
    rows: list[Gap] = []
    query: dict[str, Any] = {**FY, "fy": fy, **params}
    while True:
        response = await client.get("/v1/rates/gaps", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["fy"] == fy
        rows += [(r["role_code"], r["geography"], r["afc_band"], r["month"]) for r in body["data"]]
        if not body["next_cursor"]:
            return rows
        query["cursor"] = body["next_cursor"]


def months(rows: list[Gap], role: str, geography: str, band: str | None = None) -> list[str]:
    return [m for r, g, b, m in rows if (r, g, b) == (role, geography, band)]


ODPC = "other_direct_patient_care_icb_agreed"


async def test_the_seeded_catalogue_shows_what_it_lacks(pcn: httpx.AsyncClient) -> None:
    rows = await gaps(pcn)
    assert rows == sorted(rows, key=lambda r: (r[0], r[1], r[2] or "", r[3])) and len(rows) == len(set(rows))
    # 2024-25 lacks only the advanced practitioner's band 7 (first published for April 2025) and the
    # ICB-agreed role, whose maxima are agreed locally: every London column and MHP band is loaded.
    assert {(r, g, b) for r, g, b, _m in rows} == {
        ("advanced_practitioner", "inner_london", "7"),
        ("advanced_practitioner", "national", "7"),
        ("advanced_practitioner", "outer_london", "7"),
        (ODPC, "inner_london", None),
        (ODPC, "national", None),
        (ODPC, "outer_london", None),
    }
    assert months(rows, "advanced_practitioner", "national", "7") == ALL_YEAR
    # 2023-24: the MHP bands lack every month (their rows start in April 2024); most London columns
    # lack April to June, before the 1 July 2023 figures; the ARRS GP (claimable from October 2024) none.
    earlier = await gaps(pcn, fy="2023-24")
    assert months(earlier, "mental_health_practitioner_adult", "national", "8a") == [
        f"2023-{m:02d}" for m in range(4, 13)
    ] + [f"2024-{m:02d}" for m in range(1, 4)]
    assert months(earlier, "clinical_pharmacist", "outer_london") == ["2023-04", "2023-05", "2023-06"]
    assert months(earlier, "clinical_pharmacist", "national") == []
    assert not [r for r in earlier if r[0] in ("general_medical_practitioner", "consultant_nurse_primary_care")]
    # Filters, paging (every row once, in order) and the same rows as CSV.
    assert await gaps(pcn, geography="national", role_code="Advanced_Practitioner") == [
        ("advanced_practitioner", "national", "7", m) for m in ALL_YEAR
    ]
    assert await gaps(pcn, limit=7) == rows
    text = (await pcn.get("/v1/rates/gaps", params={**FY, "format": "csv", "role_code": ODPC})).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["role_code"], r["geography"], r["afc_band"], r["month"]) for r in table] == [
        (ODPC, g, "", m) for g in ("inner_london", "national", "outer_london") for m in ALL_YEAR
    ]
    assert table[0]["role_name"].startswith("Other direct patient care")


async def test_a_loaded_rate_period_closes_the_gap_from_its_month(
    admin: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    period = {
        "geography": "national",
        "afc_band": "Band 7",
        "effective_from": "2024-10-01",
        "annual_max_pence": 6_379_200,
        "provenance": "estimated",
        "source": "A test annex",
    }
    added = await admin.post("/v1/roles/advanced_practitioner/rates", json=period)
    assert added.status_code == 201, added.text
    assert added.json()["afc_band"] == "7"
    rows = await gaps(pcn, role_code="advanced_practitioner")
    assert months(rows, "advanced_practitioner", "national", "7") == ALL_YEAR[:6]
    assert months(rows, "advanced_practitioner", "outer_london", "7") == ALL_YEAR


async def test_a_bad_year_is_refused(pcn: httpx.AsyncClient) -> None:
    assert_problem(await pcn.get("/v1/rates/gaps", params={"fy": "2024-26"}), 422, "invalid-financial-year")
    assert_problem(await pcn.get("/v1/rates/gaps"), 422, "validation-error")
    assert_problem(await pcn.get("/v1/rates/gaps", params={**FY, "geography": "wales"}), 422, "validation-error")
