"""The 2023-2026 reference rates (domain §4): loaded by migration 0004 without editing a period, the
estimates that started too early moved to the day their figure applied, banded roles keyed by band."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import httpx
import pytest

from arrs_kit.testing import assert_problem
from roles.seed import ESTIMATE_SOURCE
from roles.seed.reference_rates import Period, ReferenceConflict, load_rows, plan


def period(id: int | None, role: str, start: date, pounds: int, **kw: Any) -> Period:
    values: dict[str, Any] = {
        "geography": "national",
        "afc_band": None,
        "provenance": "published",
        "source": "annex",
        "basis": None,
        "note": None,
        "supersedes_id": None,
        "created_by": "seed",
    }
    return Period(id=id, role_code=role, effective_from=start, annual_max_pence=pounds * 100, **(values | kw))


def row(role: str, start: str, pounds: int, provenance: str = "estimated", **kw: Any) -> dict[str, Any]:
    return {
        "role_code": role,
        "geography": "national",
        "afc_band": None,
        "effective_from": start,
        "annual_max_gbp": pounds,
        "provenance": provenance,
        "source": "reference",
        **kw,
    }


# The pharmacy technician's band 5 figures, published; the SPLW's 2024/25 estimate is the October one.
PT = [
    period(1, "pharmacy_technician", date(2023, 7, 1), 40159),
    period(2, "pharmacy_technician", date(2024, 10, 1), 42437),
]
SPLW_ESTIMATE = period(3, "spl", date(2024, 4, 1), 42437, provenance="estimated", source=ESTIMATE_SOURCE)


def test_an_estimate_that_starts_too_early_moves_to_the_day_its_figure_applied() -> None:
    added = plan([*PT, SPLW_ESTIMATE], [], {})
    assert [(p.effective_from, p.annual_max_pence, p.supersedes_id) for p in added] == [
        (date(2024, 10, 1), 4_243_700, 3)
    ]
    # Planning again over the result adds nothing.
    assert plan([*PT, SPLW_ESTIMATE, replace(added[0], id=4)], [], {}) == []


def test_a_file_row_supersedes_a_different_estimate_and_skips_an_equal_period() -> None:
    estimate = period(5, "dietitian", date(2024, 4, 1), 64000, provenance="estimated", source="an admin's estimate")
    added = plan([estimate], [row("dietitian", "2024-04-01", 60401), row("dietitian", "2024-04-01", 60401)], {})
    assert [(p.annual_max_pence, p.supersedes_id) for p in added] == [(6_040_100, 5)]
    assert plan([period(6, "dietitian", date(2024, 4, 1), 60401)], [row("dietitian", "2024-04-01", 60401)], {}) == []


def test_a_published_period_is_never_superseded_by_the_load() -> None:
    with pytest.raises(ReferenceConflict, match="a person must decide"):
        plan([period(7, "dietitian", date(2024, 4, 1), 60000)], [row("dietitian", "2024-04-01", 60401)], {})


def test_a_banded_roles_unbanded_periods_take_the_roles_band() -> None:
    ap = period(8, "advanced_practitioner", date(2021, 4, 1), 62705)
    rows = [
        row("advanced_practitioner", "2025-04-01", 64907, afc_band="7"),
        row("advanced_practitioner", "2023-07-01", 68315, afc_band="8A"),
    ]
    added = plan([ap], rows, {"advanced_practitioner": "8a"})
    assert [(p.afc_band, p.effective_from, p.supersedes_id) for p in added] == [
        ("8a", date(2021, 4, 1), 8),
        ("7", date(2025, 4, 1), None),
        ("8a", date(2023, 7, 1), None),
    ]
    with pytest.raises(ReferenceConflict, match="no single AfC band"):
        plan([ap], rows, {"advanced_practitioner": "7-8a"})


def test_the_reference_file_has_288_rows_in_whole_pounds() -> None:
    rows = load_rows()
    assert len(rows) == 288
    assert sum(r["provenance"] == "published" for r in rows) == 32
    assert all(isinstance(r["annual_max_gbp"], int) for r in rows)


async def current_national(client: httpx.AsyncClient, role: str, band: str | None = None) -> list[tuple[str, int, str]]:
    body = (await client.get(f"/v1/roles/{role}")).json()
    return [
        (p["effective_from"], p["annual_max_pence"], p["provenance"])
        for p in body["rate_periods"]
        if p["status"] == "current" and p["geography"] == "national" and p["afc_band"] == band
    ]


async def test_the_migrated_catalogue_has_every_reference_row_in_force(pcn: httpx.AsyncClient) -> None:
    # The SPLW's 2024/25 estimate (the October 2024 band 5 figure) no longer raises April to September.
    assert (await current_national(pcn, "social_prescribing_link_worker"))[-3:] == [
        ("2024-04-01", 4_015_900, "estimated"),
        ("2024-10-01", 4_243_700, "estimated"),
        ("2025-04-01", 4_335_200, "estimated"),
    ]
    splw = (await pcn.get("/v1/roles/social_prescribing_link_worker")).json()["rate_periods"]
    moved = next(p for p in splw if p["effective_from"] == "2024-10-01")
    old = next(p for p in splw if p["id"] == moved["supersedes_id"])
    assert (old["effective_from"], old["annual_max_pence"], old["status"]) == ("2024-04-01", 4_243_700, "superseded")
    # MHP bands; the advanced practitioner's published periods are band 8a, its band 7 from 2025.
    assert await current_national(pcn, "mental_health_practitioner_adult", "7") == [
        ("2024-04-01", 6_040_100, "estimated"),
        ("2024-10-01", 6_379_200, "estimated"),
        ("2025-04-01", 6_490_700, "estimated"),
    ]
    assert await current_national(pcn, "advanced_practitioner") == []
    assert [p[:2] for p in await current_national(pcn, "advanced_practitioner", "8a")] == [
        ("2021-04-01", 6_270_500),
        ("2023-07-01", 6_831_500),
        ("2024-04-01", 6_831_500),
        ("2024-10-01", 7_214_100),
        ("2025-04-01", 7_333_400),
    ]
    # Every row of the file is a current period with its amount.
    wanted = {
        (r["role_code"], r["geography"], r["afc_band"] and r["afc_band"].lower(), r["effective_from"]): r[
            "annual_max_gbp"
        ]
        * 100
        for r in load_rows()
    }
    have: dict[tuple[str, str, str | None, str], int] = {}
    for role in {key[0] for key in wanted}:
        for p in (await pcn.get(f"/v1/roles/{role}")).json()["rate_periods"]:
            if p["status"] == "current":
                have[(role, p["geography"], p["afc_band"], p["effective_from"])] = p["annual_max_pence"]
    assert {k: have.get(k) for k in wanted} == wanted


async def test_a_banded_roles_period_needs_its_band_and_no_other_role_takes_one(admin: httpx.AsyncClient) -> None:
    body = {
        "geography": "national",
        "effective_from": "2026-04-01",
        "annual_max_pence": 7_000_000,
        "provenance": "published",
        "source": "An annex",
    }
    assert_problem(
        await admin.post("/v1/roles/mental_health_practitioner_cyp/rates", json=body), 422, "rate-band-mismatch"
    )
    assert_problem(
        await admin.post("/v1/roles/clinical_pharmacist/rates", json={**body, "afc_band": "7"}),
        422,
        "rate-band-mismatch",
    )
    assert_problem(
        await admin.post("/v1/roles/clinical_pharmacist/rates", json={**body, "afc_band": "seven"}),
        422,
        "validation-error",
    )
    added = await admin.post("/v1/roles/mental_health_practitioner_cyp/rates", json={**body, "afc_band": "band 8A"})
    assert added.status_code == 201, added.text
    assert added.json()["afc_band"] == "8a"
    rates = (await admin.get("/v1/rates", params={"on": "2026-04-01", "geography": "national", "limit": 500})).json()[
        "data"
    ]
    cyp = {r["afc_band"]: r["annual_max_pence"] for r in rates if r["role_code"] == "mental_health_practitioner_cyp"}
    assert cyp == {"4": 3_615_000, "5": 4_335_200, "6": 5_331_900, "7": 6_490_700, "8a": 7_000_000}
