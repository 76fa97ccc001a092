"""The rate-in-force rule and its neighbours, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from roles import rules


@dataclass(frozen=True)
class P:
    id: int
    geography: str
    effective_from: date
    annual_max_pence: int
    supersedes_id: int | None = None
    afc_band: str | None = None


# Clinical pharmacist, as published: national uplifts on 1 Jul 2023 and 1 Oct 2024, London columns from Oct 2022.
CP = [
    P(1, "national", date(2022, 4, 1), 5_731_800),
    P(2, "national", date(2022, 10, 1), 5_931_200),
    P(3, "inner_london", date(2022, 10, 1), 6_876_800),
    P(4, "national", date(2023, 7, 1), 6_234_000),
    P(5, "national", date(2024, 10, 1), 6_583_800),
    P(6, "outer_london", date(2024, 10, 1), 7_318_900),
    P(7, "inner_london", date(2024, 10, 1), 7_631_300),
]


def amount(period: P | None) -> int | None:
    return period.annual_max_pence if period else None


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2022, 3, 31), None),  # before the first period
        (date(2022, 4, 1), 5_731_800),  # first day of a period
        (date(2022, 9, 30), 5_731_800),  # last day before the next
        (date(2022, 10, 1), 5_931_200),
        (date(2023, 6, 30), 5_931_200),
        (date(2023, 7, 1), 6_234_000),
        (date(2024, 9, 30), 6_234_000),
        (date(2024, 10, 1), 6_583_800),
        (date(2030, 1, 1), 6_583_800),  # the latest period stays in force
    ],
)
def test_rate_in_force_at_period_boundaries(on: date, expected: int | None) -> None:
    assert amount(rules.rate_in_force(CP, "national", on)) == expected


def test_claim_month_uses_the_rate_in_force_on_the_first() -> None:
    # An uplift on 1 October applies to the whole October claim, not to September's.
    assert amount(rules.rate_in_force(CP, "national", rules.claim_month_day(2024, 9))) == 6_234_000
    assert amount(rules.rate_in_force(CP, "national", rules.claim_month_day(2024, 10))) == 6_583_800
    # A period starting mid-month applies from the following claim month.
    mid = [P(1, "national", date(2024, 4, 1), 100), P(2, "national", date(2024, 6, 15), 200)]
    assert amount(rules.rate_in_force(mid, "national", rules.claim_month_day(2024, 6))) == 100
    assert amount(rules.rate_in_force(mid, "national", rules.claim_month_day(2024, 7))) == 200


def test_london_geographies_are_separate_columns() -> None:
    # Inner London had a rate from Oct 2022; outer London only from Oct 2024; neither falls back to national.
    assert amount(rules.rate_in_force(CP, "inner_london", date(2023, 1, 1))) == 6_876_800
    assert rules.rate_in_force(CP, "outer_london", date(2023, 1, 1)) is None
    assert amount(rules.rate_in_force(CP, "outer_london", date(2024, 10, 1))) == 7_318_900
    assert amount(rules.rate_in_force(CP, "inner_london", date(2024, 11, 1))) == 7_631_300
    assert rules.rate_in_force(CP, "london", date(2024, 11, 1)) is None
    gp = [P(10, "national", date(2024, 10, 1), 9_246_200), P(11, "london", date(2024, 10, 1), 9_523_300)]
    assert amount(rules.rate_in_force(gp, "london", rules.claim_month_day(2024, 12))) == 9_523_300
    assert rules.rate_in_force(gp, "london", rules.claim_month_day(2024, 9)) is None


def test_a_superseded_period_is_never_in_force() -> None:
    corrected = [*CP, P(8, "national", date(2024, 10, 1), 6_600_000, supersedes_id=5)]
    assert amount(rules.rate_in_force(corrected, "national", date(2024, 12, 1))) == 6_600_000
    assert [p.id for p in rules.current_periods(corrected)] == [1, 2, 3, 4, 6, 7, 8]
    # A correction with an earlier date replaces the old period from that date.
    moved = [*CP, P(9, "national", date(2024, 9, 1), 6_500_000, supersedes_id=5)]
    assert amount(rules.rate_in_force(moved, "national", date(2024, 9, 15))) == 6_500_000
    assert amount(rules.rate_in_force(moved, "national", date(2025, 1, 1))) == 6_500_000


def test_effective_to_is_the_day_before_the_next_current_period() -> None:
    ends = rules.effective_to(CP)
    assert ends[1] == date(2022, 9, 30)
    assert ends[4] == date(2024, 9, 30)
    assert ends[5] is None
    assert ends[3] == date(2024, 9, 30)  # inner London runs until its own next period
    corrected = [*CP, P(8, "national", date(2024, 10, 1), 6_600_000, supersedes_id=5)]
    ends = rules.effective_to(corrected)
    assert 5 not in ends and ends[8] is None and ends[4] == date(2024, 9, 30)


@pytest.mark.parametrize(("text", "bp"), [("0.7", 7000), ("1.0", 10000), ("1", 10000), ("0.5", 5000), ("0.0001", 1)])
def test_shares_are_exact_basis_points(text: str, bp: int) -> None:
    assert rules.share_to_bp(text) == bp


def test_share_round_trip_and_refusals() -> None:
    assert rules.bp_to_share(7000) == "0.7"
    assert rules.bp_to_share(10000) == "1.0"
    assert rules.bp_to_share(1) == "0.0001"
    for bad in ["0", "1.5", "0.00001", "-0.5"]:
        with pytest.raises(ValueError):
            rules.share_to_bp(bad)
