"""Pure catalogue rules, no I/O: the rate in force, funding shares, caps, financial years.

A rate period runs from its ``effective_from`` until the next *current* period of the same role and
geography; a period that a correction supersedes is history, never in force. The rate for a claim
month is the one in force on the first day of that month.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar

FY_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodLike(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def geography(self) -> str: ...
    @property
    def effective_from(self) -> date: ...
    @property
    def supersedes_id(self) -> int | None: ...


P = TypeVar("P", bound=PeriodLike)


def superseded_ids(periods: Iterable[PeriodLike]) -> set[int]:
    return {p.supersedes_id for p in periods if p.supersedes_id is not None}


def current_periods(periods: Sequence[P]) -> list[P]:
    """The periods no correction has replaced."""
    gone = superseded_ids(periods)
    return [p for p in periods if p.id not in gone]


def rate_in_force(periods: Sequence[P], geography: str, on: date) -> P | None:
    """The current period of ``geography`` with the latest ``effective_from`` on or before ``on``."""
    best: P | None = None
    for period in current_periods(periods):
        if period.geography != geography or period.effective_from > on:
            continue
        if best is None or period.effective_from > best.effective_from:
            best = period
    return best


def rate_for_claim_month(periods: Sequence[P], geography: str, year: int, month: int) -> P | None:
    """Claims use the rate in force on the 1st of the claim month (uplifts start on the 1st)."""
    return rate_in_force(periods, geography, date(year, month, 1))


def effective_to(periods: Sequence[P]) -> dict[int, date | None]:
    """Last day of each current period (the day before the next one of its geography), None if open."""
    out: dict[int, date | None] = {}
    by_geo: dict[str, list[P]] = {}
    for period in current_periods(periods):
        by_geo.setdefault(period.geography, []).append(period)
    for group in by_geo.values():
        group.sort(key=lambda p: p.effective_from)
        for this, following in zip(group, [*group[1:], None], strict=True):
            if this.id is not None:
                out[this.id] = following.effective_from - timedelta(days=1) if following is not None else None
    return out


def is_claimable(added_on: date, retired_on: date | None, on: date) -> bool:
    """Claimable from ``added_on`` up to and including ``retired_on`` (its last claimable day)."""
    return added_on <= on and (retired_on is None or on <= retired_on)


def fy_of(day: date) -> str:
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def parse_fy(fy: str) -> tuple[date, date]:
    """First and last day of a financial year written ``YYYY-YY``; ValueError otherwise."""
    match = FY_PATTERN.match(fy)
    if not match:
        raise ValueError("a financial year is written YYYY-YY, e.g. 2024-25")
    start = int(match.group(1))
    if (start + 1) % 100 != int(match.group(2)):
        raise ValueError(f"{fy} is not a financial year: the second part must be the year after the first")
    if not 2000 <= start <= 2098:
        raise ValueError("financial years run from 2000-01 to 2098-99")
    return date(start, 4, 1), date(start + 1, 3, 31)


def fy_start(fy: str) -> date:
    return parse_fy(fy)[0]


@dataclass(frozen=True, slots=True)
class CapRule:
    unit: str
    max_below_threshold: int
    max_at_or_above_threshold: int
    list_size_threshold: int

    def limit_for(self, list_size: int) -> int:
        return self.max_at_or_above_threshold if list_size >= self.list_size_threshold else self.max_below_threshold


class ShareLike(Protocol):
    @property
    def effective_from(self) -> date: ...


S = TypeVar("S", bound=ShareLike)


def share_in_force(shares: Sequence[S], on: date) -> S | None:
    best: S | None = None
    for share in shares:
        if share.effective_from <= on and (best is None or share.effective_from > best.effective_from):
            best = share
    return best


BASIS_POINTS = 10_000


def share_to_bp(value: str | Decimal) -> int:
    """``"0.7"`` → 7000. Exact; refuses more than four decimals or values outside (0, 1]."""
    amount = Decimal(str(value))
    scaled = amount * BASIS_POINTS
    if scaled != scaled.to_integral_value():
        raise ValueError("a share has at most four decimals")
    bp = int(scaled)
    if not 0 < bp <= BASIS_POINTS:
        raise ValueError("a share is more than 0 and at most 1")
    return bp


def bp_to_share(bp: int) -> str:
    """7000 → ``"0.7"``, 10000 → ``"1.0"``: a decimal string, never a float."""
    text = f"{Decimal(bp) / BASIS_POINTS:.4f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
