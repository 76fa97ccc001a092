"""The clock of the evaluation service: "now" in UTC for timestamps, and "today in England" for
periods (an English scheme's days are England's: 1 April and the 1st of a month begin at midnight UK
time, in summer time too)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

ENGLAND = ZoneInfo("Europe/London")


def now_utc() -> datetime:
    return datetime.now(UTC)


def today_in_england() -> date:
    return datetime.now(ENGLAND).date()
