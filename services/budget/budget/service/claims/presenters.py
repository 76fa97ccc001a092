"""The public shapes of a claim, one presenter each: a stored claim with its history
(:class:`ClaimPublic`) and a preview (:class:`ClaimPreview`), both validated from a claim row (a
preview's is never stored). The row's columns are the shape's fields but for what the shape derives
from them, which :class:`_Shown` adds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag
from budget.domain import claims_math, hours
from budget.models import Claim
from budget.repository import claims as claims_repo
from budget.schemas.claims import ClaimPreview, ClaimPublic


class EventLike(Protocol):
    """A claim's event as its history shows it: a :class:`budget.models.ClaimEvent` or a row of one."""

    @property
    def status(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def by(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


class _Shown:
    """A claim row as its public shapes read it: every column as it is, plus ``hours_per_week`` (from
    hundredths), ``rate_period`` (from the ``rate_*`` columns), ``estimated_rate``, ``history`` (the
    rows of ``claim_event``) and, for a preview, what the pot has available."""

    def __init__(self, row: Claim, *, history: Sequence[EventLike] = (), available_pence: int | None = None) -> None:
        self._row = row
        self.history = history
        self.available_pence = available_pence
        self.fits_budget = True  # a claim that does not fit is answered 409 before it is shown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)

    @property
    def hours_per_week(self) -> str:
        return hours.centi_to_hours(self._row.hours_per_week_centi)

    @property
    def rate_period(self) -> dict[str, Any]:
        row = self._row
        return {
            "id": row.rate_period_id,
            "effective_from": row.rate_effective_from,
            "annual_max_pence": row.rate_annual_max_pence,
            "geography": row.rate_geography,
            "provenance": row.rate_provenance,
            "source": row.rate_source,
        }

    @property
    def segments(self) -> list[dict[str, Any]]:
        row = self._row
        if row.segments:
            return row.segments
        year, month = (int(part) for part in row.month.split("-"))
        first, last = claims_math.month_bounds(year, month)
        return [
            {
                "first_day": first,
                "last_day": last,
                "days": row.days_in_post,
                "hours_per_week": self.hours_per_week,
                "wte": row.wte,
                "geography": row.rate_geography,
                "afc_band": None,
                "cap_pence": row.cap_pence,
                "rate_period": self.rate_period,
            }
        ]

    @property
    def estimated_rate(self) -> bool:
        return self._row.rate_provenance == "estimated" or any(
            s["rate_period"]["provenance"] == "estimated" for s in self._row.segments or []
        )


def claim_etag(claim: Claim) -> str:
    return make_etag("claim", str(claim.id), claim.version)


def claim_public(session: Session, claim: Claim, events: Sequence[EventLike] | None = None) -> ClaimPublic:
    """A stored claim with its history (read here unless ``events`` are given)."""
    assert claim.id is not None
    if events is None:
        events = claims_repo.history_of(session, claim.id)
    return ClaimPublic.model_validate(_Shown(claim, history=events), from_attributes=True)


def preview_public(row: Claim, *, available_pence: int) -> ClaimPreview:
    """A claim computed but not stored, with what its pot has available."""
    return ClaimPreview.model_validate(_Shown(row, available_pence=available_pence), from_attributes=True)
