"""The budget's calendar, no I/O: financial years (1 April to 31 March, written ``YYYY-YY``), claim
months (``YYYY-MM``) and "today", which for an English scheme is today in England (memberships change
at midnight in England, and uplifts start at midnight UK time)."""

from __future__ import annotations

import calendar
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


def parse_month(month: str) -> tuple[int, int]:
    """``"2024-10"`` → (2024, 10)."""
    year, number = (int(part) for part in month.split("-"))
    return year, number


def month_text(year: int, number: int) -> str:
    return f"{year}-{number:02d}"


def fy_of_month(month: str) -> str:
    """The financial year a claim month ``YYYY-MM`` falls in."""
    year, number = parse_month(month)
    return fy_of(date(year, number, 1))


def months_from(year: int, number: int, end: date) -> list[tuple[int, int]]:
    """Months from (year, number) to the one holding ``end``, inclusive."""
    months = []
    while (year, number) <= (end.year, end.month):
        months.append((year, number))
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def claim_window_end(fy: str, months_after: int) -> date:
    """The last day claims of ``fy`` may be made: the last day of the ``months_after``-th month after
    the year ends (3: 30 June). Claims are made in arrears and may be backdated (domain §5)."""
    _, last = financial_year(fy)
    index = last.year * 12 + (last.month - 1) + months_after
    year, month = divmod(index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])
