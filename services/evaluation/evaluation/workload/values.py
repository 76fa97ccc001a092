"""Checks of single values of a record, with no I/O: practice codes, periods, months, counts.

Each check answers the value to store or None, and remembers the spellings it has accepted (a
national upload repeats a few thousand practice codes and a few hundred dates a million times).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
LIMIT = 100_000
"""Spellings remembered per check."""

_ODS = re.compile(r"[A-Za-z][0-9]{5}")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})(-01)?")
_GPAD_DATE = re.compile(r"([0-9]{2})([A-Za-z]{3})([0-9]{4})")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}


def remember(cache: dict[str, str], raw: str, value: str) -> str:
    if len(cache) < LIMIT:
        cache[raw] = value
    return value


def _day(raw: str) -> date | None:
    if not _ISO.fullmatch(raw):
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


class Checks:
    """The field checks every format shares, each answering the stored value or None."""

    def __init__(self) -> None:
        self.practices: dict[str, str] = {}
        self.weeks: dict[str, str] = {}
        self.months: dict[str, str] = {}
        self.list_months: dict[str, str] = {}
        self.gpad_months: dict[str, str] = {}

    def practice(self, raw: Any) -> str | None:
        if type(raw) is not str:
            return None
        found = self.practices.get(raw)
        if found is None and _ODS.fullmatch(raw) and raw.isascii():
            found = remember(self.practices, raw, raw.upper())
        return found

    def period(self, grain: Any, raw: Any) -> str | None:
        if type(raw) is not str:
            return None
        if grain == "week":
            found = self.weeks.get(raw)
            if found is None and (day := _day(raw)) is not None and day.weekday() == 0:
                found = remember(self.weeks, raw, day.isoformat())
            return found
        if grain == "month":
            found = self.months.get(raw)
            if found is None and (day := _day(raw)) is not None and day.day == 1:
                found = remember(self.months, raw, day.isoformat())
            return found
        return None

    def list_month(self, raw: Any) -> str | None:
        """``YYYY-MM`` (or its first day, ``YYYY-MM-01``) as the month's first day."""
        if type(raw) is not str:
            return None
        found = self.list_months.get(raw)
        if found is None and (match := _MONTH.fullmatch(raw)):
            day = _day(f"{match[1]}-{match[2]}-01")
            found = None if day is None else remember(self.list_months, raw, day.isoformat())
        return found

    def gpad_month(self, raw: str) -> str | None:
        """GPAD's ``01OCT2025`` (any case; an ISO date is read too) when it is a month's first day."""
        found = self.gpad_months.get(raw)
        if found is None:
            text = raw.strip()
            match = _GPAD_DATE.fullmatch(text)
            if match and match[2].upper() in _MONTHS:
                text = f"{match[3]}-{_MONTHS[match[2].upper()]:02d}-{match[1]}"
            day = _day(text)
            if day is not None and day.day == 1:
                found = remember(self.gpad_months, raw, day.isoformat())
        return found


def count(raw: Any, most: int) -> int | None:
    """A JSON integer (not a boolean) from 0 to ``most``."""
    return raw if type(raw) is int and 0 <= raw <= most else None


def count_text(raw: str, most: int) -> int | None:
    """A CSV cell of ASCII digits (spaces around allowed) from 0 to ``most``."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        return None
    value = int(raw)
    return value if value <= most else None
