"""A claim month's segments (domain §6): the part of the month under each set of the post's terms,
the rate it is paid at, how a claim stores and shows them, and the terms and rates a stored claim was
computed on (which its adjustment keeps)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from budget.clients.roles import RatePeriod, Role, normalise_band
from budget.domain import claims_math, hours
from budget.domain.terms import Span, Terms, TermsLike
from budget.models import Claim, Post


@dataclass(frozen=True, slots=True)
class SegmentUsed:
    """A part of the claim month under one set of the post's terms, the rate it is paid at and its
    computation."""

    span: Span
    rate: RatePeriod
    computed: claims_math.SegmentComputation


def segment_json(segment: SegmentUsed) -> dict[str, Any]:
    """A segment as a claim stores and shows it."""
    computed, rate = segment.computed, segment.rate
    return {
        "first_day": computed.first.isoformat(),
        "last_day": computed.last.isoformat(),
        "days": computed.days,
        "hours_per_week": hours.centi_to_hours(segment.span.terms.hours_per_week_centi),
        "wte": claims_math.decimal_string(computed.wte, 6),
        "geography": segment.span.terms.geography,
        "afc_band": segment.span.terms.afc_band,
        "cap_pence": claims_math.round_half_up(computed.cap),
        "rate_period": {
            "id": rate.id,
            "effective_from": rate.effective_from.isoformat(),
            "annual_max_pence": rate.annual_max_pence,
            "geography": rate.geography,
            "provenance": rate.provenance,
            "source": rate.source,
        },
    }


@dataclass(frozen=True, slots=True)
class PaidTerms:
    """The terms and rate periods a claim was computed on, one per segment: its adjustment keeps them."""

    terms: Sequence[TermsLike]
    rates: Sequence[RatePeriod]


def paid_terms_of(claim: Claim) -> PaidTerms:
    """What a stored claim was computed on: its segments, or its own columns for one set of terms."""
    if claim.segments:
        return PaidTerms(
            terms=[
                Terms(
                    date.fromisoformat(s["first_day"]),
                    hours.hours_to_centi(s["hours_per_week"]),
                    s["afc_band"],
                    s["geography"],
                )
                for s in claim.segments
            ],
            rates=[
                RatePeriod(
                    id=s["rate_period"]["id"],
                    geography=s["rate_period"]["geography"],
                    afc_band=s["afc_band"],
                    effective_from=date.fromisoformat(s["rate_period"]["effective_from"]),
                    annual_max_pence=s["rate_period"]["annual_max_pence"],
                    provenance=s["rate_period"]["provenance"],
                    source=s["rate_period"]["source"],
                    status="current",
                )
                for s in claim.segments
            ],
        )
    first = date.fromisoformat(f"{claim.month}-01")
    return PaidTerms(
        terms=[Terms(first, claim.hours_per_week_centi, None, claim.rate_geography)],
        rates=[
            RatePeriod(
                id=claim.rate_period_id,
                geography=claim.rate_geography,
                afc_band=None,
                effective_from=claim.rate_effective_from,
                annual_max_pence=claim.rate_annual_max_pence,
                provenance=claim.rate_provenance,
                source=claim.rate_source,
                status="current",
            )
        ],
    )


def own_terms(post: Post) -> Terms:
    """A post's own fields as one set of terms from its start (a post read without its dated terms)."""
    return Terms(post.start_date, post.hours_per_week_centi, post.afc_band, post.geography)


def band_of(role: Role, terms: TermsLike | Post) -> str | None:
    """The AfC band whose rate a post's terms are paid at: theirs for a banded role (MHP, AP), else none."""
    return normalise_band(terms.afc_band) if role.banded and terms.afc_band else None


def rate_for(role: Role, post: Post, day: date) -> RatePeriod | None:
    """The rate period a post is paid at on ``day``: its role, geography and (banded roles) band."""
    return role.rate_in_force(post.geography, day, band_of(role, post))
