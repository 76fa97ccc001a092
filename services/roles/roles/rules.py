"""Pure catalogue rules, no I/O: the rate in force and exact shares.

A rate period runs from its ``effective_from`` until the next *current* period of the same role and
geography; a period that a correction supersedes is history, never in force. The rate for a claim
month is the one in force on the first day of that month.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, Protocol, TypeVar, get_args

from roles.calendar import next_month

Geography = Literal["national", "outer_london", "inner_london", "london"]
GEOGRAPHIES: tuple[str, ...] = get_args(Geography)
"""The rate columns: the ARRS GP has one London rate, other roles inner and outer London."""

ONE_LONDON_RATE = frozenset({"general_medical_practitioner"})
"""Roles whose London rate is one column, ``london`` (the ARRS GP, domain §4)."""


def geographies_of(role_code: str) -> tuple[str, ...]:
    """The geographies a role has a rate for: national and London (one column, or inner and outer)."""
    if role_code in ONE_LONDON_RATE:
        return ("national", "london")
    return ("national", "outer_london", "inner_london")


def claimable_in(added_on: date, retired_on: date | None, month_first: date) -> bool:
    """Whether a role is claimable on any day of the month that starts on ``month_first``."""
    return added_on < next_month(month_first) and (retired_on is None or retired_on >= month_first)


class PeriodLike(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def geography(self) -> str: ...
    @property
    def afc_band(self) -> str | None: ...
    @property
    def effective_from(self) -> date: ...
    @property
    def supersedes_id(self) -> int | None: ...


P = TypeVar("P", bound=PeriodLike)


def normalise_band(band: str) -> str:
    """An AfC band as a banded rate period's key holds it: ``Band 8A`` → ``8a``, `` 7 `` → ``7``."""
    text = band.strip().lower()
    return text.removeprefix("band").strip()


def normalise_code(code: str) -> str:
    """A role code as stored: trimmed, lower case (paths accept any case)."""
    return code.strip().lower()


def superseded_ids(periods: Iterable[PeriodLike]) -> set[int]:
    return {p.supersedes_id for p in periods if p.supersedes_id is not None}


def current_periods(periods: Sequence[P]) -> list[P]:
    """The periods no correction has replaced."""
    gone = superseded_ids(periods)
    return [p for p in periods if p.id not in gone]


def bands_of(periods: Iterable[PeriodLike]) -> list[str | None]:
    """The AfC bands a role's periods are keyed by: ``[None]`` for an unbanded role (domain §4)."""
    bands = sorted({p.afc_band for p in periods if p.afc_band is not None})
    return list(bands) if bands else [None]


def rate_in_force(periods: Sequence[P], geography: str, on: date, afc_band: str | None = None) -> P | None:
    """The current period of ``geography`` (and, for a banded role, ``afc_band``) with the latest
    ``effective_from`` on or before ``on``."""
    best: P | None = None
    for period in current_periods(periods):
        if period.geography != geography or period.afc_band != afc_band or period.effective_from > on:
            continue
        if best is None or period.effective_from > best.effective_from:
            best = period
    return best


def claim_month_day(year: int, month: int) -> date:
    """Claims use the rate in force on the 1st of the claim month (uplifts start on the 1st)."""
    return date(year, month, 1)


def effective_to(periods: Sequence[P]) -> dict[int, date | None]:
    """Last day of each current period (the day before the next one of its geography and band), None
    if open."""
    out: dict[int, date | None] = {}
    by_geo: dict[tuple[str, str | None], list[P]] = {}
    for period in current_periods(periods):
        by_geo.setdefault((period.geography, period.afc_band), []).append(period)
    for group in by_geo.values():
        group.sort(key=lambda p: p.effective_from)
        for this, following in zip(group, [*group[1:], None], strict=True):
            if this.id is not None:
                out[this.id] = following.effective_from - timedelta(days=1) if following is not None else None
    return out


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
