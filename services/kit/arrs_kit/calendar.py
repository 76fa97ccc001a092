"""The scheme's calendar: financial years (1 April to 31 March, written ``YYYY-YY``) and "today",
which for an English scheme is today in England (uplifts start at midnight UK time, and 1 July and
1 October fall in summer time).

Domain, not plumbing: it stays here only for the budget service, which still imports it. Every other
service keeps its own (``roles.calendar``, ``evaluation.periods`` with ``evaluation.clock``,
``gateway.calendar``); once the budget service holds its own copy, delete this module and its test.
Nothing new may import it."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from arrs_kit.problems import ProblemError

ENGLAND = ZoneInfo("Europe/London")
# ASCII digits only: \d would also take full-width and other Unicode digits.
FY_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")


class InvalidFinancialYear(ProblemError):
    status, code, title = 422, "invalid-financial-year", "Not a financial year"


def today_in_england() -> date:
    return datetime.now(ENGLAND).date()


def parse_fy(fy: str) -> tuple[date, date]:
    """First and last day of a financial year written ``YYYY-YY``; ValueError otherwise."""
    match = FY_PATTERN.fullmatch(fy)
    if not match:
        raise ValueError("a financial year is written YYYY-YY, e.g. 2024-25")
    start = int(match.group(1))
    if (start + 1) % 100 != int(match.group(2)):
        raise ValueError(f"{fy} is not a financial year: the second part must be the year after the first")
    if not 2000 <= start <= 2098:
        raise ValueError("financial years run from 2000-01 to 2098-99")
    return date(start, 4, 1), date(start + 1, 3, 31)


def financial_year(fy: str) -> tuple[date, date]:
    """:func:`parse_fy` for request input: a bad value is a 422 ``invalid-financial-year``."""
    try:
        return parse_fy(fy)
    except ValueError as exc:
        raise InvalidFinancialYear(str(exc)) from exc


def fy_of(day: date) -> str:
    """The financial year ``day`` falls in, ``YYYY-YY``."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"
