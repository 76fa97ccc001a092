"""The seed reproduces the reference catalogue exactly, and seeding twice changes nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from arrs_kit.db import make_engine
from roles.models import RatePeriod, Role
from roles.seed import apply_seed, build_seed, load_extras, load_reference
from roles.seed.reference_rates import apply_reference_rates

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "arrs-roles.json"


def periods_of(code: str, geography: str = "national") -> list[tuple[date, int, str]]:
    return sorted(
        (p["effective_from"], p["annual_max_pence"], p["provenance"])
        for p in build_seed().periods
        if p["role_code"] == code and p["geography"] == geography
    )


def test_packaged_reference_is_the_shared_one_when_present() -> None:
    if REFERENCE.exists():
        assert json.loads(REFERENCE.read_text()) == load_reference()


def test_every_reference_role_is_seeded_with_its_facts() -> None:
    seed = build_seed()
    reference = load_reference()
    assert [r["code"] for r in seed.roles] == [r["code"] for r in reference]
    assert len(seed.roles) == 26
    assert {t["role_code"] for t in seed.templates} == {r["code"] for r in reference}
    assert all(t["suggested_kpis"] for t in seed.templates)
    by_code = {r["code"]: r for r in seed.roles}
    assert by_code["social_prescribing_link_worker"]["supplier_fee_monthly_max_pence"] == 20_000
    assert by_code["clinical_pharmacist"]["supplier_fee_monthly_max_pence"] is None
    assert by_code["digital_transformation_lead"]["staff_group"] == "non_clinical"
    assert by_code["general_medical_practitioner"]["added_on"] == date(2024, 10, 1)


def test_every_sourced_amount_becomes_a_published_period_per_geography() -> None:
    expected = 0
    for role in load_reference():
        for period in role.get("rate_periods", []):
            expected += sum(
                1 for g in ("national", "outer_london", "inner_london", "london") if period.get(g) is not None
            )
    published = [p for p in build_seed().periods if p["provenance"] == "published"]
    assert len(published) == expected == 46
    assert periods_of("clinical_pharmacist", "inner_london") == [
        (date(2022, 10, 1), 6_876_800, "published"),
        (date(2024, 10, 1), 7_631_300, "published"),
        (date(2025, 4, 1), 7_754_500, "published"),
    ]
    assert periods_of("general_medical_practitioner", "london") == [(date(2024, 10, 1), 9_523_300, "published")]


def test_a_period_without_an_amount_is_left_out() -> None:
    # The ARRS GP's 2026-27 change is known but its figure is not.
    assert [p[0] for p in periods_of("general_medical_practitioner")] == [date(2024, 10, 1), date(2025, 4, 1)]


def test_estimates_start_on_the_first_day_of_their_financial_year() -> None:
    # SPLW: published to Jul 2023, estimated for 2024-25 and 2025-26.
    assert periods_of("social_prescribing_link_worker")[-3:] == [
        (date(2023, 7, 1), 4_015_900, "published"),
        (date(2024, 4, 1), 4_243_700, "estimated"),
        (date(2025, 4, 1), 4_335_200, "estimated"),
    ]
    # Health and wellbeing coach: nothing published, every estimate from 1 April.
    assert [p[0] for p in periods_of("health_and_wellbeing_coach")] == [
        date(2022, 4, 1),
        date(2023, 4, 1),
        date(2024, 4, 1),
        date(2025, 4, 1),
    ]
    assert all(p[2] == "estimated" for p in periods_of("health_and_wellbeing_coach"))


def test_an_estimate_gives_way_to_a_published_period_of_its_year() -> None:
    # First contact physiotherapist: published Oct 2022 and Jul 2023; estimates for 2024-25 and 2025-26.
    assert periods_of("first_contact_physiotherapist") == [
        (date(2022, 10, 1), 5_931_200, "published"),
        (date(2023, 7, 1), 6_234_000, "published"),
        (date(2024, 4, 1), 6_583_800, "estimated"),
        (date(2025, 4, 1), 6_697_200, "estimated"),
    ]
    # Nursing associate: estimates only (2021-22 to 2023-24), each from 1 April.
    assert periods_of("nursing_associate") == [
        (date(2021, 4, 1), 2_972_600, "estimated"),
        (date(2022, 4, 1), 3_174_600, "estimated"),
        (date(2023, 4, 1), 3_339_600, "estimated"),
    ]
    # Pharmacy technician has no estimates: its published periods cover every year.
    assert all(p[2] == "published" for p in periods_of("pharmacy_technician"))
    # An estimate of a year in which a published period starts is dropped: none of the seeded
    # estimates shares a financial year with a published national period of its role.
    seed = build_seed()
    for estimate in (p for p in seed.periods if p["provenance"] == "estimated"):
        first = estimate["effective_from"]
        published_in_year = [
            p
            for p in seed.periods
            if p["role_code"] == estimate["role_code"]
            and p["geography"] == "national"
            and p["provenance"] == "published"
            and first <= p["effective_from"] <= date(first.year + 1, 3, 31)
        ]
        assert published_in_year == [], estimate["role_code"]


def test_a_published_period_within_the_year_drops_that_years_estimate() -> None:
    reference = [r for r in load_reference() if r["code"] == "health_and_wellbeing_coach"]
    role = {
        **reference[0],
        "rate_periods": [{"effective_from": "2024-10-01", "national": 45000, "inner_london": 50000, "source": "DES"}],
    }
    extras = {"health_and_wellbeing_coach": load_extras()["health_and_wellbeing_coach"]}
    seed = build_seed([role], extras)
    national = sorted((p["effective_from"], p["provenance"]) for p in seed.periods if p["geography"] == "national")
    assert national == [
        (date(2022, 4, 1), "estimated"),
        (date(2023, 4, 1), "estimated"),
        (date(2024, 10, 1), "published"),  # the 2024-25 estimate gave way
        (date(2025, 4, 1), "estimated"),
    ]
    assert [(p["effective_from"], p["annual_max_pence"]) for p in seed.periods if p["geography"] == "inner_london"] == [
        (date(2024, 10, 1), 5_000_000)
    ]


def test_caps_and_shares_are_structured() -> None:
    seed = build_seed()
    caps = {(c["role_code"], c["fy"]): c for c in seed.caps}
    ap = caps[("advanced_practitioner", "2023-24")]
    assert (ap["max_below_threshold"], ap["max_at_or_above_threshold"], ap["unit"]) == (3, 6, "wte")
    assert caps[("enhanced_practice_nurse", "2024-25")]["max_at_or_above_threshold"] == 2
    assert caps[("digital_transformation_lead", "2022-23")]["max_below_threshold"] == 1
    assert not any(c["fy"] == "2025-26" for c in seed.caps)
    shares = {(s["role_code"], s["effective_from"]): s for s in seed.shares}
    assert shares[("clinical_pharmacist", date(2019, 7, 1))]["share_bp"] == 7000
    assert shares[("clinical_pharmacist", date(2020, 4, 1))]["share_bp"] == 10000
    mhp = shares[("mental_health_practitioner_adult", date(2024, 4, 1))]
    assert (mhp["share_bp"], mhp["max_share_bp"]) == (5000, 10000)


def test_reseeding_changes_nothing(roles_db_url: str) -> None:
    engine = make_engine(roles_db_url)
    try:
        with engine.begin() as conn:
            before = conn.execute(select(func.count()).select_from(RatePeriod)).scalar_one()
            assert before > len(build_seed().periods)  # the seed, then the 2023-26 reference rates
            assert apply_reference_rates(conn, RatePeriod.__table__, Role.__table__) == 0  # type: ignore[attr-defined]
            assert apply_seed(conn) == {
                "roles": 0,
                "rate_periods": 0,
                "funding_shares": 0,
                "caps": 0,
                "supervision": 0,
                "templates": 0,
            }
            assert conn.execute(select(func.count()).select_from(RatePeriod)).scalar_one() == before
            assert conn.execute(select(func.count()).select_from(Role)).scalar_one() == 26
    finally:
        engine.dispose()


def test_rate_periods_cannot_be_edited_or_deleted_by_any_code_path(roles_db_url: str) -> None:
    import pytest
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(roles_db_url)
    try:
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(RatePeriod)).scalar_one()
        for statement in (
            update(RatePeriod).values(annual_max_pence=1),
            delete(RatePeriod),
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(statement)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(RatePeriod)).scalar_one() == before
    finally:
        engine.dispose()
