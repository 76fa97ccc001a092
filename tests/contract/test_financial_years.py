"""Every service counts financial years and days the same way: each keeps its own copy of the
scheme's calendar (domain, not kit: the kit's copy is gone), and these are the rules they must agree
on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from arrs_kit.problems import ProblemError
from budget.domain import calendar as budget_calendar
from evaluation import clock as evaluation_clock
from evaluation import errors as evaluation_errors
from evaluation import periods as evaluation_periods
from gateway import calendar as gateway_calendar
from roles import calendar as roles_calendar
from roles import errors as roles_errors


@dataclass(frozen=True)
class Calendar:
    name: str
    parse_fy: Callable[[str], tuple[date, date]]
    financial_year: Callable[[str], tuple[date, date]]
    today_in_england: Callable[[], date]
    problem: type[ProblemError]


CALENDARS = [
    Calendar(
        "budget",
        budget_calendar.parse_fy,
        budget_calendar.financial_year,
        budget_calendar.today_in_england,
        budget_calendar.InvalidFinancialYear,
    ),
    Calendar(
        "roles",
        roles_calendar.parse_fy,
        roles_calendar.financial_year,
        roles_calendar.today_in_england,
        roles_errors.InvalidFinancialYear,
    ),
    Calendar(
        "evaluation",
        evaluation_periods.parse_fy,
        evaluation_periods.financial_year,
        evaluation_clock.today_in_england,
        evaluation_errors.InvalidFinancialYear,
    ),
    Calendar(
        "gateway",
        gateway_calendar.parse_fy,
        gateway_calendar.financial_year,
        gateway_calendar.today_in_england,
        gateway_calendar.InvalidFinancialYear,
    ),
]


@pytest.fixture(params=CALENDARS, ids=lambda c: c.name)
def calendar(request: pytest.FixtureRequest) -> Calendar:
    found: Calendar = request.param
    return found


def test_financial_years(calendar: Calendar) -> None:
    assert calendar.parse_fy("2024-25") == (date(2024, 4, 1), date(2025, 3, 31))
    assert calendar.parse_fy("2098-99") == (date(2098, 4, 1), date(2099, 3, 31))


@pytest.mark.parametrize(
    "fy",
    ["2024-26", "2024/25", "24-25", "2024-2", "abcdefg", "1999-00", "2099-00", "2024-25 ", "2024-25\n", "２０２４-25"],
)
def test_not_financial_years(calendar: Calendar, fy: str) -> None:
    with pytest.raises(ValueError):
        calendar.parse_fy(fy)


def test_request_input_gets_a_problem(calendar: Calendar) -> None:
    with pytest.raises(calendar.problem) as raised:
        calendar.financial_year("2024-26")
    assert raised.value.status == 422 and raised.value.code == "invalid-financial-year"


def test_today_is_the_same_day_everywhere(calendar: Calendar) -> None:
    assert calendar.today_in_england() == evaluation_clock.today_in_england()


@pytest.mark.parametrize(
    ("day", "fy"), [(date(2024, 3, 31), "2023-24"), (date(2024, 4, 1), "2024-25"), (date(2099, 12, 31), "2099-00")]
)
def test_the_year_a_day_falls_in(day: date, fy: str) -> None:
    assert budget_calendar.fy_of(day) == evaluation_periods.fy_of(day) == gateway_calendar.fy_of(day) == fy
