"""Measurement periods, with no I/O: a week starts on a Monday, a month on the 1st (domain.md §2, §7).

A period is named by its first day. "Ended" periods are the ones a measurement can be expected for:
a KPI is measured in arrears, like a claim, so the period containing today is not yet due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from enum import StrEnum


class Frequency(StrEnum):
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
