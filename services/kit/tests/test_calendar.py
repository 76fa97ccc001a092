"""The scheme's calendar: financial years and today in England."""

from __future__ import annotations

from datetime import date

import pytest

from arrs_kit.calendar import InvalidFinancialYear, financial_year, parse_fy, today_in_england


def test_financial_years() -> None:
    assert parse_fy("2024-25") == (date(2024, 4, 1), date(2025, 3, 31))
    assert parse_fy("2098-99") == (date(2098, 4, 1), date(2099, 3, 31))


@pytest.mark.parametrize(
    "fy",
    ["2024-26", "2024/25", "24-25", "2024-2", "abcdefg", "1999-00", "2099-00", "2024-25 ", "2024-25\n", "２０２４-25"],
)
def test_not_financial_years(fy: str) -> None:
    with pytest.raises(ValueError):
        parse_fy(fy)


def test_request_input_gets_a_problem() -> None:
    with pytest.raises(InvalidFinancialYear) as raised:
        financial_year("2024-26")
    assert raised.value.status == 422 and raised.value.code == "invalid-financial-year"


def test_today_is_a_date() -> None:
    assert isinstance(today_in_england(), date)
