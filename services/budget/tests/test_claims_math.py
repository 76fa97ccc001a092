"""The claim computation against cases worked by hand (domain.md §6), exact to the penny."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from budget.domain.claims_math import compute_claim, days_in_post, decimal_string, round_half_up

CP_NATIONAL_OCT_2024 = 6_583_800  # clinical pharmacist, national, from 1 Oct 2024
CP_NATIONAL_JUL_2023 = 6_234_000


def claim(**changes: object):
    base: dict[str, object] = {
        "year": 2024,
        "month": 10,
        "start_date": date(2023, 1, 1),
        "leave_date": None,
        "hours_per_week": "37.5",
        "annual_max_pence": CP_NATIONAL_OCT_2024,
        "funding_share": "1.0",
        "salary_pence": 450_000,
        "employer_ni_pence": 55_000,
        "employer_pension_pence": 95_000,
    }
    return compute_claim(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(-1, 2), -1),
        (Fraction(100_001, 2), 50_001),  # 50,000.5p → 50,001p
        (Fraction(49_999, 100_000), 0),
        (Fraction(7, 3), 2),
        (Fraction(8, 3), 3),
        (Fraction(10), 10),
    ],
)
def test_round_half_up(value: Fraction, rounded: int) -> None:
    assert round_half_up(value) == rounded


def test_a_full_month_full_time_is_capped_at_a_twelfth_of_the_annual_maximum() -> None:
    # 6,583,800 / 12 = 548,650 exactly; actual 600,000 > cap.
    c = claim()
    assert (c.days_in_post, c.days_in_month, c.wte, c.cap_pence, c.actual_pence) == (31, 31, 1, 548_650, 600_000)
    assert c.reimbursable_pence == 548_650


def test_under_the_cap_the_actual_cost_is_paid() -> None:
    c = claim(salary_pence=400_000, employer_ni_pence=45_000, employer_pension_pence=85_000)
    assert c.actual_pence == 530_000 and c.reimbursable_pence == 530_000


def test_part_month_start_on_the_16th() -> None:
    # 16 of 31 days: cap = 6,583,800 × 16/31 / 12 = 283,174.19…p → 283,174p.
    c = claim(start_date=date(2024, 10, 16))
    assert (c.days_in_post, c.days_in_month) == (16, 31)
    assert c.cap == Fraction(6_583_800 * 16, 31 * 12)
    assert c.cap_pence == 283_174 and c.reimbursable_pence == 283_174


@pytest.mark.parametrize(
    ("start", "leave", "year", "month", "days"),
    [
        (date(2024, 10, 1), None, 2024, 10, 31),  # starts on the first day
        (date(2024, 10, 31), None, 2024, 10, 1),  # starts on the last day
        (date(2023, 1, 1), date(2024, 10, 1), 2024, 10, 1),  # leaves on the first day
        (date(2023, 1, 1), date(2024, 10, 31), 2024, 10, 31),  # leaves on the last day
        (date(2024, 10, 10), date(2024, 10, 20), 2024, 10, 11),  # both inside the month
        (date(2024, 11, 1), None, 2024, 10, 0),  # not yet started
        (date(2023, 1, 1), date(2024, 9, 30), 2024, 10, 0),  # already left
        (date(2023, 1, 1), None, 2024, 2, 29),  # leap February
        (date(2024, 2, 29), None, 2024, 2, 1),
        (date(2023, 1, 1), None, 2023, 2, 28),
        (date(2023, 1, 1), None, 2024, 4, 30),  # 30-day month
    ],
)
def test_days_in_post(start: date, leave: date | None, year: int, month: int, days: int) -> None:
    assert days_in_post(start, leave, year, month) == days


def test_leap_february_part_month() -> None:
    # From 15 Feb 2024: 15 of 29 days; rate from Jul 2023; cap = 6,234,000 × 15/29 / 12 = 268,706.89…p.
    c = claim(year=2024, month=2, start_date=date(2024, 2, 15), annual_max_pence=CP_NATIONAL_JUL_2023)
    assert (c.days_in_post, c.days_in_month) == (15, 29)
    assert c.cap_pence == 268_707 and c.reimbursable_pence == 268_707


def test_wte_below_one() -> None:
    # 22.5 h = 0.6 WTE: cap = 548,650 × 0.6 = 329,190p; actual 300,000 is under it.
    c = claim(hours_per_week="22.5", salary_pence=240_000, employer_ni_pence=25_000, employer_pension_pence=35_000)
    assert c.wte == Fraction(3, 5) and c.cap_pence == 329_190 and c.reimbursable_pence == 300_000
    assert decimal_string(c.wte) == "0.6"


def test_wte_above_one_raises_the_cap() -> None:
    # 45 h = 1.2 WTE (overtime at plain time): cap = 548,650 × 1.2 = 658,380p.
    c = claim(hours_per_week="45", salary_pence=600_000, employer_ni_pence=70_000, employer_pension_pence=0)
    assert c.wte == Fraction(6, 5) and c.cap_pence == 658_380 and c.reimbursable_pence == 658_380


def test_wte_that_does_not_terminate_stays_exact() -> None:
    # 20 h = 8/15 WTE: cap = 6,583,800 × 8/15 / 12 = 292,613.33…p.
    c = claim(hours_per_week="20", salary_pence=400_000)
    assert c.wte == Fraction(8, 15) and decimal_string(c.wte) == "0.5333"
    assert c.cap == Fraction(6_583_800 * 8, 15 * 12) and c.reimbursable_pence == 292_613


def test_rate_change_on_1_october() -> None:
    # The caller passes the rate in force on the 1st: September uses Jul 2023's, October the uplift.
    september = claim(month=9, annual_max_pence=CP_NATIONAL_JUL_2023)
    october = claim(month=10, annual_max_pence=CP_NATIONAL_OCT_2024)
    assert september.cap_pence == 519_500  # 6,234,000 / 12
    assert october.cap_pence == 548_650


def test_inner_london_rate() -> None:
    c = claim(annual_max_pence=7_631_300, salary_pence=700_000)  # inner London CP from Oct 2024
    assert c.cap == Fraction(7_631_300, 12) and c.cap_pence == 635_942 and c.reimbursable_pence == 635_942


def test_mental_health_practitioner_half_share_rounds_half_up() -> None:
    # Actual 100,001p under the cap, share 0.5: 50,000.5p → 50,001p.
    c = claim(funding_share="0.5", salary_pence=100_001, employer_ni_pence=0, employer_pension_pence=0)
    assert c.reimbursable_pence == 50_001
    full = claim(funding_share="1.0", salary_pence=100_001, employer_ni_pence=0, employer_pension_pence=0)
    assert full.reimbursable_pence == 100_001


def test_clinical_pharmacist_2019_share() -> None:
    # 70% of min(actual, cap): 0.7 × 548,650 = 384,055p.
    assert claim(funding_share="0.7").reimbursable_pence == 384_055


def test_social_prescriber_supplier_fee() -> None:
    splw = {
        "annual_max_pence": 4_015_900,
        "salary_pence": 200_000,
        "employer_ni_pence": 20_000,
        "employer_pension_pence": 30_000,
    }
    # 30 h = 0.8 WTE, full month: fee allowed = min(25,000, 20,000 × 0.8) = 16,000p.
    c = claim(hours_per_week="30", supplier_fee_pence=25_000, supplier_fee_allowed=True, **splw)
    assert c.fee_allowed_pence == 16_000 and c.actual_pence == 266_000
    # cap = 4,015,900 × 0.8 / 12 = 267,726.67p: actual is under it.
    assert c.cap_pence == 267_727 and c.reimbursable_pence == 266_000
    # A smaller fee is allowed whole; part-month pro-rates the ceiling: 20,000 × 0.8 × 10/31 = 5,161.29p.
    assert (
        claim(hours_per_week="30", supplier_fee_pence=5_000, supplier_fee_allowed=True, **splw).fee_allowed_pence
        == 5_000
    )
    part = claim(
        hours_per_week="30", start_date=date(2024, 10, 22), supplier_fee_pence=25_000, supplier_fee_allowed=True, **splw
    )
    assert part.fee_allowed == Fraction(20_000 * 4 * 10, 5 * 31) and part.fee_allowed_pence == 5_161
    # Without the supplier arrangement the fee counts for nothing.
    assert claim(hours_per_week="30", supplier_fee_pence=25_000, **splw).fee_allowed == 0


def test_no_day_in_post_reimburses_nothing() -> None:
    c = claim(start_date=date(2024, 11, 1))
    assert (c.days_in_post, c.cap_pence, c.reimbursable_pence) == (0, 0, 0)


@pytest.mark.parametrize("field", ["salary_pence", "employer_ni_pence", "employer_pension_pence", "supplier_fee_pence"])
def test_money_must_be_whole_non_negative_pence(field: str) -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            claim(**{field: bad})
