"""Pure rules of the register: reference dates, exact weighted populations."""

from __future__ import annotations

from datetime import date

import pytest

from budget.domain import register


@pytest.mark.parametrize(
    ("fy", "day"),
    [("2024-25", date(2024, 1, 1)), ("2020-21", date(2020, 1, 1)), ("2025-26", date(2025, 1, 1)), ("2024-26", None)],
)
def test_reference_date_is_the_first_of_january_before_the_year(fy: str, day: date | None) -> None:
    if day is None:
        with pytest.raises(ValueError):
            register.reference_date_for(fy)
    else:
        assert register.reference_date_for(fy) == day


@pytest.mark.parametrize(
    ("text", "milli", "shown"),
    [
        ("12345.678", 12_345_678, "12345.678"),
        ("12345.6", 12_345_600, "12345.600"),
        ("12345", 12_345_000, "12345.000"),
        ("0.001", 1, "0.001"),
        ("0", 0, "0.000"),
        ("99999999.999", 99_999_999_999, "99999999.999"),
    ],
)
def test_weighted_populations_are_exact(text: str, milli: int, shown: str) -> None:
    assert register.population_to_milli(text) == milli
    assert register.milli_to_population(milli) == shown


@pytest.mark.parametrize("text", ["1.2345", "abc", "NaN", "Infinity", ""])
def test_weighted_populations_refuse_what_is_not_exact(text: str) -> None:
    with pytest.raises(ValueError):
        register.population_to_milli(text)


def test_leaving_as_of_a_day_ends_the_day_before() -> None:
    assert register.day_before(date(2025, 1, 1)) == date(2024, 12, 31)
    assert register.day_before(date(2024, 3, 1)) == date(2024, 2, 29)
