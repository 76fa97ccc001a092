"""A post's dated terms (domain §6) as a claim month meets them. Pure, no I/O.

A set of terms runs from its ``effective_from`` to the day before the next set's; a claim month in
which they change is computed in segments, one per set that meets the month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from budget.domain.claims_math import month_bounds


class TermsLike(Protocol):
    @property
    def effective_from(self) -> date: ...
    @property
    def hours_per_week_centi(self) -> int: ...
    @property
    def afc_band(self) -> str | None: ...
    @property
    def geography(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Terms:
    """A set of terms built by the service itself (a post without dated terms, a stored segment)."""

    effective_from: date
    hours_per_week_centi: int
    afc_band: str | None
    geography: str


@dataclass(frozen=True, slots=True)
class Span:
    """The part of a claim month (``first`` to ``last``, inclusive) under one set of terms."""

    first: date
    last: date
    terms: TermsLike


def spans_in_month(terms: Sequence[TermsLike], year: int, month: int) -> list[Span]:
    """The sets of terms that meet the month, each with the days of the month it covers, in order.
    ``terms`` are a post's, in any order; the first set also covers any day before it (a post whose
    start was moved earlier), so every day of the month is under exactly one set."""
    first, last = month_bounds(year, month)
    ordered = sorted(terms, key=lambda t: t.effective_from)
    spans: list[Span] = []
    for index, (this, following) in enumerate(zip(ordered, [*ordered[1:], None], strict=True)):
        begin = first if index == 0 else max(first, this.effective_from)
        end = min(last, following.effective_from - timedelta(days=1)) if following is not None else last
        if begin <= end:
            spans.append(Span(begin, end, this))
    return spans
