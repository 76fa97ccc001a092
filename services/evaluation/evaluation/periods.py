"""Measurement periods and financial years, with no I/O: a week starts on a Monday, a month on the
1st, a financial year on 1 April and is written ``YYYY-YY`` (domain.md §2, §7).

A period is named by its first day. "Ended" periods are the ones a measurement can be expected for:
a KPI is measured in arrears, like a claim, so the period containing today is not yet due.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from enum import StrEnum

from evaluation.errors import InvalidFinancialYear

# ASCII digits only: \d would also take full-width and other Unicode digits.
FY_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")


class Frequency(StrEnum):
    """How often a KPI is measured: weekly (periods start on a Monday) or monthly (on the 1st)."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"


def first_period(frequency: Frequency) -> date:
    """The earliest period the platform knows (dates start in 2000): a KPI's first target applies
    from it, so every period before a later change keeps the first target."""
    return date(2000, 1, 3) if frequency is Frequency.WEEKLY else date(2000, 1, 1)


def is_period_start(day: date, frequency: Frequency) -> bool:
    return day.weekday() == 0 if frequency is Frequency.WEEKLY else day.day == 1


def period_of(day: date, frequency: Frequency) -> date:
    """The start of the period containing ``day``."""
    if frequency is Frequency.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, frequency: Frequency) -> date:
    if frequency is Frequency.WEEKLY:
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def previous_period(start: date, frequency: Frequency) -> date:
    if frequency is Frequency.WEEKLY:
        return start - timedelta(days=7)
    return date(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)


def last_ended(today: date, frequency: Frequency) -> date:
    """The start of the most recent period that ended before ``today``."""
    return previous_period(period_of(today, frequency), frequency)


def periods(first: date, last: date, frequency: Frequency) -> Iterator[date]:
    """Every period start from ``first`` to ``last`` inclusive (both period starts)."""
    current = first
    while current <= last:
        yield current
        current = next_period(current, frequency)


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
