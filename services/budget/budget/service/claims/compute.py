"""A claim's computation and the checks of domain §6.

A claim is computed by :mod:`budget.domain.claims_math` from the post, the amounts the PCN paid and
the role's terms in the roles service (:mod:`budget.clients.roles`; an outage is 503, never a guessed
rate). Every check of domain §6 runs on a preview, a draft and again on submission; the failures are
collected so a problem names every reason at once (``type`` is the first, ``checks`` lists all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.orm import Session

from arrs_kit.problems import ProblemError
from budget.clients.roles import RatePeriod, Role, RoleCatalogue
from budget.domain import claims_math, hours
from budget.domain.calendar import fy_of_month, parse_month, today_in_england
from budget.domain.claim_states import ClaimKind
from budget.domain.terms import TermsLike, spans_in_month
from budget.errors import (
    ClaimMonthNotEnded,
    DuplicateClaim,
    FinancialYearClosed,
    PostInBaseline,
    PostNotActive,
    RateNotPublished,
    RoleCapExceeded,
    RoleNotClaimable,
    SupplierFeeNotAllowed,
)
from budget.models import Claim, FundingRate, Post
from budget.repository import claims as claims_repo
from budget.repository import funding_rates as funding_rates_repo
from budget.repository import ledger as ledger_repo
from budget.repository import posts as posts_repo
from budget.repository import register as register_repo
from budget.repository.claims import ClaimBasis
from budget.schemas.claims import ClaimInput
from budget.service.claims.segments import PaidTerms, SegmentUsed, band_of, own_terms, segment_json

SPLW = "social_prescribing_link_worker"
GP = "general_medical_practitioner"
MHP_ROLES = frozenset({"mental_health_practitioner_adult", "mental_health_practitioner_cyp"})
"""The first MHP a PCN hires takes the catalogue's share (0.5); later ones the share agreed on the post."""


class Amounts(Protocol):
    """What the PCN paid for the post in the month (a request's :class:`ClaimInput`, a claim row, or
    the amounts a forecast projects at)."""

    @property
    def salary_pence(self) -> int: ...
    @property
    def employer_ni_pence(self) -> int: ...
    @property
    def employer_pension_pence(self) -> int: ...
    @property
    def supplier_fee_pence(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PaidAmounts:
    """Amounts built by the service itself (a forecast's basis), not read from a request."""

    salary_pence: int
    employer_ni_pence: int = 0
    employer_pension_pence: int = 0
    supplier_fee_pence: int = 0


@dataclass(slots=True)
class Computed:
    """A claim's computation and the checks it failed (empty: it may be made)."""

    post: Post
    month: str
    fy: str
    pot: str
    inputs: Amounts
    result: claims_math.ClaimComputation | None = None
    rate: RatePeriod | None = None
    segments: list[SegmentUsed] = field(default_factory=list)
    first_mhp: bool = False
    failures: list[ProblemError] = field(default_factory=list)

    @property
    def hours_centi(self) -> int:
        """The claim's hours: the most of the month's sets of terms in the post (what a cap counts)."""
        met = [s.span.terms.hours_per_week_centi for s in self.segments if s.computed.days > 0]
        return max(met) if met else self.post.hours_per_week_centi

    def fail(self, error: ProblemError) -> None:
        self.failures.append(error)

    def raise_failures(self) -> None:
        """Raise the first failed check, naming every failed check in ``checks``."""
        if not self.failures:
            return
        first = self.failures[0]
        first.extra = {
            **first.extra,
            "post_id": self.post.id,
            "month": self.month,
            "checks": [{"code": f.code, "status": f.status, "detail": f.detail} for f in self.failures],
        }
        raise first


def pot_of(role_code: str, rate: FundingRate | None) -> str:
    """A GP claim draws on the ring-fenced ``arrs_gp`` pot in a year that has one (a GP rate); all
    else on ``arrs``."""
    if role_code == GP and rate is not None and rate.arrs_gp_rate_tenth_pence is not None:
        return "arrs_gp"
    return "arrs"


def pot_for(session: Session, role_code: str, fy: str) -> str:
    """:func:`pot_of`, reading the year's rates only for a GP."""
    return pot_of(role_code, funding_rates_repo.get_funding_rate(session, fy) if role_code == GP else None)


@dataclass(frozen=True, slots=True)
class CapInUse:
    """What the ``role-cap-exceeded`` check needs: the role's cap for the PCN's list size, and the
    hours (hundredths, each post's largest) of the other posts of the role whose claims for the
    month count against it (submitted, approved or paid)."""

    unit: str
    limit: int
    pcn_code: str
    list_size: int
    other_posts_centi: Sequence[int]


def compute(
    session: Session,
    catalogue: RoleCatalogue,
    *,
    post: Post,
    month: str,
    inputs: ClaimInput,
    exclude_claim_id: int | None = None,
    check_duplicate: bool = True,
    paid_on: PaidTerms | None = None,
    basis: ClaimBasis | None = None,
) -> Computed:
    """Compute the claim and run every check of domain §6 but ``budget-exceeded``: read what the
    checks need (the pot, a live claim of the same month, the role's cap in use), then :func:`assess`.
    ``basis``: the post's terms and the year's close if read with the post (:func:`claims_repo.basis_of`)."""
    fy = fy_of_month(month)
    pot = pot_for(session, post.role_code, fy)
    role = catalogue.role(post.role_code)
    duplicate = (
        claims_repo.live_claim(session, post_id=post.id, month=month, exclude=exclude_claim_id)
        if check_duplicate
        else None
    )
    cap = role.cap_for(fy) if role is not None else None
    in_use = None
    if cap is not None:
        pcn = register_repo.get_pcn(session, post.pcn_code)
        assert pcn is not None  # a post's PCN is a foreign key
        list_size = register_repo.list_size_for(session, pcn, fy)
        others = claims_repo.counted_hours_by_post(
            session,
            pcn_code=pcn.code,
            role_code=post.role_code,
            month=month,
            other_than_post=post.id,
            exclude=exclude_claim_id,
        )
        in_use = CapInUse(
            unit=cap.unit,
            limit=cap.limit_for(list_size),
            pcn_code=pcn.code,
            list_size=list_size,
            other_posts_centi=[centi for _, centi in others],
        )
    if basis is None:
        closed = ledger_repo.get_year_close(session, post.pcn_code, fy)
        closed_at = closed.closed_at if closed is not None else None
        terms: Sequence[TermsLike] = posts_repo.terms_of(session, post.id) if paid_on is None else ()
    else:
        closed_at, terms = basis.closed_at, basis.terms
    mhp = post.role_code in MHP_ROLES
    first_mhp = mhp and posts_repo.first_post_of_roles(session, post.pcn_code, sorted(MHP_ROLES)) in (None, post.id)
    return assess(
        post=post,
        role=role,
        month=month,
        pot=pot,
        inputs=inputs,
        today=today_in_england(),
        duplicate=duplicate,
        cap=in_use,
        first_mhp=first_mhp,
        closed_on=closed_at.date() if closed_at is not None else None,
        terms=paid_on.terms if paid_on is not None else terms,
        paid_rates=paid_on.rates if paid_on is not None else None,
    )


def assess(
    *,
    post: Post,
    role: Role | None,
    month: str,
    pot: str,
    inputs: Amounts,
    today: date,
    duplicate: Claim | None,
    cap: CapInUse | None,
    first_mhp: bool = False,
    closed_on: date | None = None,
    terms: Sequence[TermsLike] = (),
    paid_rates: Sequence[RatePeriod] | None = None,
) -> Computed:
    """The claim's computation and the checks of domain §6 it fails, from what was read: no I/O.
    ``duplicate`` is the post's other live claim for the month; ``cap`` the role's cap in use;
    ``first_mhp`` whether the post is its PCN's first mental health practitioner; ``closed_on`` the day
    the PCN closed the claim month's financial year, if it has; ``terms`` the post's dated terms (none:
    the post's own fields from its start); ``paid_rates`` the rate period of each segment a paid claim
    was computed on, which its adjustment keeps (domain §6) instead of the rates in force now."""
    fy = fy_of_month(month)
    year, number = parse_month(month)
    first, last = claims_math.month_bounds(year, number)
    c = Computed(post=post, month=month, fy=fy, pot=pot, inputs=inputs, first_mhp=first_mhp)

    if closed_on is not None:
        c.fail(FinancialYearClosed(f"{fy} was closed on {closed_on}: it takes no more claims.", extra={"fy": fy}))
    if last >= today:
        c.fail(ClaimMonthNotEnded(f"{month} ends on {last}; claims are made in arrears, from the day after."))
    fee_allowed = post.role_code == SPLW and post.employment_model == "supplier"
    if inputs.supplier_fee_pence and not fee_allowed:
        c.fail(
            SupplierFeeNotAllowed(
                "A supplier fee is claimable only for a social prescribing link worker bought from a supplier "
                f"(this post: {post.role_code}, employed by {post.employment_model})."
            )
        )
    if role is None:
        c.fail(RoleNotClaimable(f"The role catalogue has no role {post.role_code}."))
    elif not role.claimable_on(first):
        ended = f", retired after {role.retired_on}" if role.retired_on else ""
        c.fail(RoleNotClaimable(f"{role.code} was claimable from {role.added_on}{ended}; not on {first}."))
    if post.baseline:
        c.fail(PostInBaseline(f"Post {post.id} is part of the 31 March 2019 baseline and is not claimable."))
    days = claims_math.days_in_post(post.start_date, post.leave_date, year, number)
    if days == 0:
        until = f" to {post.leave_date}" if post.leave_date else ""
        c.fail(PostNotActive(f"Post {post.id} runs from {post.start_date}{until}: no day of {month} lies inside."))
    spans = spans_in_month(terms or [own_terms(post)], year, number)
    rates: list[RatePeriod] = []
    if role is not None:
        for index, span in enumerate(spans):
            band = band_of(role, span.terms)
            rate = (
                paid_rates[index] if paid_rates is not None else role.rate_in_force(span.terms.geography, first, band)
            )
            if rate is None:
                of = f"{span.terms.geography}, AfC band {band}" if band else span.terms.geography
                if role.banded and band is None:
                    of += "; the role is paid by AfC band and the post has none"
                c.fail(RateNotPublished(f"No rate period of {role.code} ({of}) is in force on {first}."))
            else:
                rates.append(rate)
        c.rate = rates[0] if rates else None
    if duplicate is not None:
        c.fail(
            DuplicateClaim(
                f"Claim {duplicate.id} for post {post.id} and {month} is {duplicate.status}; withdraw or "
                "correct it instead.",
                extra={"claim_id": duplicate.id},
            )
        )
    if role is not None and len(rates) == len(spans):
        c.result, computed = claims_math.compute_segments(
            year=year,
            month=number,
            start_date=post.start_date,
            leave_date=post.leave_date,
            spans=[
                claims_math.TermsSpan(
                    span.first, span.last, hours.centi_to_hours(span.terms.hours_per_week_centi), rate.annual_max_pence
                )
                for span, rate in zip(spans, rates, strict=True)
            ],
            funding_share=funding_share(role, post, first, first_mhp=first_mhp),
            salary_pence=inputs.salary_pence,
            employer_ni_pence=inputs.employer_ni_pence,
            employer_pension_pence=inputs.employer_pension_pence,
            supplier_fee_pence=inputs.supplier_fee_pence if fee_allowed else 0,
            supplier_fee_allowed=fee_allowed,
        )
        c.segments = [SegmentUsed(*parts) for parts in zip(spans, rates, computed, strict=True)]
        if cap is not None:
            _check_cap(c, cap)
    return c


def funding_share(role: Role, post: Post, first: date, *, first_mhp: bool = False) -> str:
    """The catalogue's share in force on the 1st; a later MHP post's agreed share where the catalogue
    allows one (up to its ``max_share``). The PCN's first MHP always takes the catalogue's share."""
    share = role.funding_share_on(first)
    standard = share.share if share is not None else "1"
    if (
        not first_mhp
        and post.funding_share is not None
        and share is not None
        and share.max_share is not None
        and claims_math.exact(post.funding_share) <= claims_math.exact(share.max_share)
    ):
        return post.funding_share
    return str(standard)


def _check_cap(c: Computed, cap: CapInUse) -> None:
    """``role-cap-exceeded``: counting this post, more posts (or WTE) of the role would be in the
    month's submitted, approved or paid claims than the cap for the PCN's list size."""
    if cap.unit == "wte":
        total = sum(cap.other_posts_centi) + c.hours_centi
        exceeded = total > cap.limit * hours.FULL_TIME_CENTI  # WTE of 37.5 hours, in hundredths of an hour
        used = f"{hours.wte_of(total)} WTE"
    else:
        exceeded = len(cap.other_posts_centi) + 1 > cap.limit
        used = f"{len(cap.other_posts_centi) + 1} posts"
    if exceeded:
        c.fail(
            RoleCapExceeded(
                f"{c.post.role_code} is capped at {cap.limit} {cap.unit} for PCN {cap.pcn_code} (list size "
                f"{cap.list_size}) in {c.fy}; this claim would make {used} in {c.month}.",
                extra={"cap": cap.limit, "cap_unit": cap.unit},
            )
        )


def computation_fields(c: Computed) -> dict[str, Any]:
    """The columns of a claim row that hold its computation."""
    result, rate = c.result, c.rate
    assert result is not None and rate is not None
    return {
        "days_in_post": result.days_in_post,
        "days_in_month": result.days_in_month,
        "hours_per_week_centi": c.hours_centi,
        "wte": claims_math.decimal_string(result.wte, 6),
        "cap_pence": result.cap_pence,
        "fee_allowed_pence": result.fee_allowed_pence,
        "actual_pence": result.actual_pence,
        "funding_share": claims_math.decimal_string(result.funding_share, 4),
        "reimbursable_pence": result.reimbursable_pence,
        "rate_period_id": rate.id,
        "rate_geography": rate.geography,
        "rate_effective_from": rate.effective_from,
        "rate_annual_max_pence": rate.annual_max_pence,
        "rate_provenance": rate.provenance,
        "rate_source": rate.source,
        "segments": [segment_json(s) for s in c.segments],
    }


def row_of(c: Computed, **columns: Any) -> Claim:
    """A claim row holding the computation, its inputs and the post it is for; ``columns`` add the
    rest (kind, status, amount, who and when) or replace any of these (an adjustment keeps its
    claim's pot). Not added to the session: a preview only shows it."""
    values: dict[str, Any] = {
        **computation_fields(c),
        "post_id": c.post.id,
        "pcn_code": c.post.pcn_code,
        "role_code": c.post.role_code,
        "month": c.month,
        "fy": c.fy,
        "pot": c.pot,
        "salary_pence": c.inputs.salary_pence,
        "employer_ni_pence": c.inputs.employer_ni_pence,
        "employer_pension_pence": c.inputs.employer_pension_pence,
        "supplier_fee_pence": c.inputs.supplier_fee_pence,
    }
    return Claim(**(values | columns))


def apply(claim: Claim, c: Computed) -> None:
    """Put a computation (and its inputs) on the claim row, setting only what differs (cheaper to read)."""
    values = computation_fields(c) | {
        "salary_pence": c.inputs.salary_pence,
        "employer_ni_pence": c.inputs.employer_ni_pence,
        "employer_pension_pence": c.inputs.employer_pension_pence,
        "supplier_fee_pence": c.inputs.supplier_fee_pence,
        "pot": c.pot,
    }
    if claim.kind == ClaimKind.CLAIM:
        values["amount_pence"] = values["reimbursable_pence"]
    for name, value in values.items():
        if getattr(claim, name) != value:
            setattr(claim, name, value)
