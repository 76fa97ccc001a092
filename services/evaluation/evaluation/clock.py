"""The clock of the evaluation service: "now" in UTC for timestamps, and "today in England" for
periods (imported from the kit, so every service counts days the same way)."""

from __future__ import annotations

from datetime import UTC, datetime

from arrs_kit.calendar import today_in_england

__all__ = ["now_utc", "today_in_england"]


def now_utc() -> datetime:
    return datetime.now(UTC)
