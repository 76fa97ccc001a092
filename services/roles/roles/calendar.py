"""The scheme's calendar as the role catalogue counts it: financial years (1 April to 31 March,
written ``YYYY-YY``) and "today", which for an English scheme is today in England (a rate that
starts on 1 April starts at midnight UK time). Pure, no I/O."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from roles.errors import InvalidFinancialYear

ENGLAND = ZoneInfo("Europe/London")
# ASCII digits only: \d would also take full-width and other Unicode digits.
FY_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")


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


def next_month(first: date) -> date:
    """The first day of the month after the one that starts on ``first``."""
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def months_between(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s to ``last``'s, in order."""
    months: list[date] = []
    day = first.replace(day=1)
    while day <= last:
        months.append(day)
        day = next_month(day)
    return months
