"""Monthly reimbursement claims (domain §6): preview, drafts, the ICB lifecycle, and adjustments.

A claim is computed by :mod:`budget.claims_math` from the post, the amounts the PCN paid and the
role's terms in the roles service (:mod:`budget.catalogue`; an outage is 503, never a guessed rate).
Every check of domain §6 runs on a preview, a draft and again on submission; the failures are
collected so a problem names every reason at once (``type`` is the first, ``checks`` lists all).

Money moves through :func:`budgets.post`, on the pot's balance row locked first, so the
``available`` check and the hold are one atomic step:

====================  ==========================================  ===========================
transition            a claim, or an adjustment that adds money   an adjustment that recovers
====================  ==========================================  ===========================
submit                available → held                            (nothing)
approve               held → approved                             (nothing)
reject / withdraw     held → available                            (nothing)
pay                   approved → paid                             paid → available
====================  ==========================================  ===========================

Locks are always taken claim row first, then the pot's balance row, so writers never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.calendar import today_in_england
from arrs_kit.context import current_request_id
from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.idempotency import Claim as IdempotencyClaim
from arrs_kit.pagination import next_cursor_for
from arrs_kit.principal import Principal
from arrs_kit.problems import Forbidden, ProblemError
from budget import claims_math, rules, scope
from budget import repository as repo
from budget.catalogue import RatePeriod as CatalogueRatePeriod
from budget.catalogue import Role, RoleCatalogue
from budget.errors import (
    AdjustmentNotNeeded,
    AdjustmentPending,
    BudgetExceeded,
    ClaimMonthNotEnded,
    ClaimNotFound,
    DuplicateClaim,
    InvalidClaimTransition,
    PostInBaseline,
    PostNotActive,
    PostNotFound,
    RateNotPublished,
    RoleCapExceeded,
    RoleNotClaimable,
    SupplierFeeNotAllowed,
)
from budget.models import BudgetBalance, Claim, ClaimEvent, Pcn, Post
from budget.schemas import (
    AdjustmentCreate,
    ClaimCreate,
    ClaimEventPublic,
    ClaimInput,
    ClaimPreview,
    ClaimPublic,
    ClaimUpdate,
    RatePeriodUsed,
)
from budget.service import access, budgets

SPLW = "social_prescribing_link_worker"
GP = "general_medical_practitioner"
COUNTED = ("submitted", "approved", "paid")
"""Claims that count against a role's cap for their month."""

CLAIM = "claim"
ADJUSTMENT = "adjustment"


# What a claim is computed from, and what it comes to


@dataclass(slots=True)
class Computed:
    """A claim's computation and the checks it failed (empty: it may be made)."""

    post: Post
    month: str
    fy: str
    pot: str
    inputs: ClaimInput
    result: claims_math.ClaimComputation | None = None
    rate: CatalogueRatePeriod | None = None
    failures: list[ProblemError] = field(default_factory=list)

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


def parse_month(month: str) -> tuple[int, int]:
    year, number = (int(part) for part in month.split("-"))
    return year, number


def fy_of_month(month: str) -> str:
    year, number = parse_month(month)
    start = year if number >= 4 else year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def pot_for(session: Session, role_code: str, fy: str) -> str:
    """A GP claim draws on the ring-fenced ``arrs_gp`` pot in a year that has one; all else ``arrs``."""
    if role_code == GP:
        rate = repo.get_funding_rate(session, fy)
        if rate is not None and rate.arrs_gp_rate_tenth_pence is not None:
            return "arrs_gp"
    return "arrs"


def compute(
    session: Session,
    catalogue: RoleCatalogue,
    *,
    post: Post,
    month: str,
    inputs: ClaimInput,
    exclude_claim_id: int | None = None,
    check_duplicate: bool = True,
) -> Computed:
    """Compute the claim and run every check of domain §6 but ``budget-exceeded``."""
    fy = fy_of_month(month)
    year, number = parse_month(month)
    first, last = claims_math.month_bounds(year, number)
    c = Computed(post=post, month=month, fy=fy, pot=pot_for(session, post.role_code, fy), inputs=inputs)

    if last >= today_in_england():
        c.fail(ClaimMonthNotEnded(f"{month} ends on {last}; claims are made in arrears, from the day after."))
    fee_allowed = post.role_code == SPLW and post.employment_model == "supplier"
    if inputs.supplier_fee_pence and not fee_allowed:
        c.fail(
            SupplierFeeNotAllowed(
                "A supplier fee is claimable only for a social prescribing link worker bought from a supplier "
                f"(this post: {post.role_code}, employed by {post.employment_model})."
            )
        )
    role = catalogue.role(post.role_code)
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
    if role is not None:
        c.rate = role.rate_in_force(post.geography, first)
        if c.rate is None:
            c.fail(RateNotPublished(f"No rate period of {role.code} ({post.geography}) is in force on {first}."))
    if check_duplicate:
        existing = _live_claim(session, post_id=post.id, month=month, exclude=exclude_claim_id)
        if existing is not None:
            c.fail(
                DuplicateClaim(
                    f"Claim {existing.id} for post {post.id} and {month} is {existing.status}; withdraw or "
                    "correct it instead.",
                    extra={"claim_id": existing.id},
                )
            )
    if role is not None and c.rate is not None:
        c.result = claims_math.compute_claim(
            year=year,
            month=number,
            start_date=post.start_date,
            leave_date=post.leave_date,
            hours_per_week=rules.centi_to_hours(post.hours_per_week_centi),
            annual_max_pence=c.rate.annual_max_pence,
            funding_share=_funding_share(role, post, first),
            salary_pence=inputs.salary_pence,
            employer_ni_pence=inputs.employer_ni_pence,
            employer_pension_pence=inputs.employer_pension_pence,
            supplier_fee_pence=inputs.supplier_fee_pence if fee_allowed else 0,
            supplier_fee_allowed=fee_allowed,
        )
        cap = role.cap_for(fy)
        if cap is not None:
            pcn = repo.get_pcn(session, post.pcn_code)
            assert pcn is not None  # a post's PCN is a foreign key
            _check_cap(session, c, pcn, cap_unit=cap.unit, limit=cap.limit_for(pcn.list_size), exclude=exclude_claim_id)
    return c


def _funding_share(role: Role, post: Post, first: date) -> str:
    """The catalogue's share in force on the 1st; an MHP post's override where the catalogue allows it."""
    share = role.funding_share_on(first)
    standard = share.share if share is not None else "1"
    if (
        post.funding_share is not None
        and share is not None
        and share.max_share is not None
        and claims_math.exact(post.funding_share) <= claims_math.exact(share.max_share)
    ):
        return post.funding_share
    return str(standard)


def _live_claim(session: Session, *, post_id: int | None, month: str, exclude: int | None) -> Claim | None:
    stmt = select(Claim).where(
        col(Claim.post_id) == post_id,
        col(Claim.month) == month,
        col(Claim.kind) == CLAIM,
        col(Claim.status).not_in(("rejected", "withdrawn")),
    )
    if exclude is not None:
        stmt = stmt.where(col(Claim.id) != exclude)
    return session.scalars(stmt.limit(1)).first()


def _check_cap(session: Session, c: Computed, pcn: Pcn, *, cap_unit: str, limit: int, exclude: int | None) -> None:
    """``role-cap-exceeded``: counting this post, more posts (or WTE) of the role would be in the
    month's submitted, approved or paid claims than the cap for the PCN's list size."""
    others = select(col(Claim.post_id), func.max(col(Claim.hours_per_week_centi))).where(
        col(Claim.pcn_code) == pcn.code,
        col(Claim.role_code) == c.post.role_code,
        col(Claim.month) == c.month,
        col(Claim.kind) == CLAIM,
        col(Claim.status).in_(COUNTED),
        col(Claim.post_id) != c.post.id,
    )
    if exclude is not None:
        others = others.where(col(Claim.id) != exclude)
    rows = session.execute(others.group_by(col(Claim.post_id))).all()
    if cap_unit == "wte":
        total = sum(int(centi) for _, centi in rows) + c.post.hours_per_week_centi
        exceeded = total > limit * 3750  # WTE of 37.5 hours, in hundredths of an hour
        used = f"{rules.wte_of(total)} WTE"
    else:
        exceeded = len(rows) + 1 > limit
        used = f"{len(rows) + 1} posts"
    if exceeded:
        c.fail(
            RoleCapExceeded(
                f"{c.post.role_code} is capped at {limit} {cap_unit} for PCN {pcn.code} (list size "
                f"{pcn.list_size}) in {c.fy}; this claim would make {used} in {c.month}.",
                extra={"cap": limit, "cap_unit": cap_unit},
            )
        )


# Shapes answered


def _rate_used(claim: Claim) -> RatePeriodUsed:
    return RatePeriodUsed(
        id=claim.rate_period_id,
        effective_from=claim.rate_effective_from,
        annual_max_pence=claim.rate_annual_max_pence,
        geography=claim.rate_geography,
        provenance=claim.rate_provenance,
        source=claim.rate_source,
    )


def _wte_text(result: claims_math.ClaimComputation) -> str:
    return claims_math.decimal_string(result.wte, 6)


def _computation_fields(c: Computed) -> dict[str, Any]:
    result, rate = c.result, c.rate
    assert result is not None and rate is not None
    return {
        "days_in_post": result.days_in_post,
        "days_in_month": result.days_in_month,
        "hours_per_week_centi": c.post.hours_per_week_centi,
        "wte": _wte_text(result),
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
    }


def _common(claim: Claim) -> dict[str, object]:
    return {
        "post_id": claim.post_id,
        "pcn_code": claim.pcn_code,
        "role_code": claim.role_code,
        "month": claim.month,
        "fy": claim.fy,
        "pot": claim.pot,
        "salary_pence": claim.salary_pence,
        "employer_ni_pence": claim.employer_ni_pence,
        "employer_pension_pence": claim.employer_pension_pence,
        "supplier_fee_pence": claim.supplier_fee_pence,
        "days_in_post": claim.days_in_post,
        "days_in_month": claim.days_in_month,
        "hours_per_week": rules.centi_to_hours(claim.hours_per_week_centi),
        "wte": claim.wte,
        "cap_pence": claim.cap_pence,
        "fee_allowed_pence": claim.fee_allowed_pence,
        "actual_pence": claim.actual_pence,
        "funding_share": claim.funding_share,
        "reimbursable_pence": claim.reimbursable_pence,
        "rate_period": _rate_used(claim),
        "estimated_rate": claim.rate_provenance == "estimated",
    }


def claim_etag(claim: Claim) -> str:
    return make_etag("claim", str(claim.id), claim.version)


def claim_public(session: Session, claim: Claim, events: Sequence[ClaimEvent] | None = None) -> ClaimPublic:
    assert claim.id is not None
    if events is None:
        events = _events_of(session, [claim.id]).get(claim.id, [])
    return ClaimPublic(
        id=claim.id,
        kind=claim.kind,
        adjusts_claim_id=claim.adjusts_claim_id,
        amount_pence=claim.amount_pence,
        status=claim.status,
        payment_reference=claim.payment_reference,
        history=[ClaimEventPublic(status=e.status, action=e.action, at=e.at, by=e.by, reason=e.reason) for e in events],
        created_at=claim.created_at,
        created_by=claim.created_by,
        updated_at=claim.updated_at,
        updated_by=claim.updated_by,
        **_common(claim),
    )


def _events_of(session: Session, claim_ids: Sequence[int]) -> dict[int, list[ClaimEvent]]:
    if not claim_ids:
        return {}
    rows = session.scalars(
        select(ClaimEvent).where(col(ClaimEvent.claim_id).in_(claim_ids)).order_by(col(ClaimEvent.id))
    ).all()
    grouped: dict[int, list[ClaimEvent]] = {}
    for row in rows:
        grouped.setdefault(row.claim_id, []).append(row)
    return grouped


def _record(
    session: Session, claim: Claim, *, action: str, principal: Principal, now: datetime, reason: str | None
) -> None:
    assert claim.id is not None
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            status=claim.status,
            action=action,
            at=now,
            by=access.actor(principal),
            reason=reason,
            request_id=current_request_id(),
        )
    )


# Who may do what (domain §8)


# Whatever the action, a post or claim the principal may not read is 404, as one that does not exist
# (the same body); one it reads but whose action its kind may not take is 403, naming no organisation.


def _visible(session: Session, principal: Principal, pcn_code: str) -> tuple[bool, str]:
    """Whether the principal may read the things of ``pcn_code``, and that PCN's ICB."""
    icb_code = repo.icb_codes_of_pcns(session, [pcn_code])[pcn_code]
    return scope.may_read_pcn(principal, pcn_code=pcn_code, icb_code=icb_code), icb_code


def _managed_post(session: Session, principal: Principal, post_id: int) -> Post:
    """A post whose claims this principal makes: its PCN, or an admin."""
    post = repo.get_post(session, post_id)
    if post is None or not _visible(session, principal, post.pcn_code)[0]:
        raise PostNotFound(access.NO_POST)
    if not scope.may_manage_post(principal, pcn_code=post.pcn_code):
        raise Forbidden("Only the post's PCN or an admin makes its claims.")
    return post


def _readable_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    claim = session.scalars(select(Claim).where(col(Claim.id) == claim_id)).one_or_none()
    if claim is None or not _visible(session, principal, claim.pcn_code)[0]:
        raise ClaimNotFound(access.NO_CLAIM)
    return claim


def _pcn_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    """A claim its PCN (or an admin) acts on, locked."""
    claim, _ = _claim_for_write(session, principal, claim_id)
    if not scope.may_manage_post(principal, pcn_code=claim.pcn_code):
        raise Forbidden("Only the claim's PCN or an admin may do this.")
    return claim


def _icb_claim(session: Session, principal: Principal, claim_id: int) -> Claim:
    """A claim its PCN's ICB (or an admin) decides on, locked."""
    claim, icb_code = _claim_for_write(session, principal, claim_id)
    if not scope.may_manage_pcn(principal, icb_code=icb_code):
        raise Forbidden("Only the PCN's ICB or an admin approves, rejects or pays claims.")
    return claim


def _claim_for_write(session: Session, principal: Principal, claim_id: int) -> tuple[Claim, str]:
    """The claim, locked, if the principal may read it (404 otherwise), and its PCN's ICB."""
    claim = session.scalars(
        select(Claim).where(col(Claim.id) == claim_id).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if claim is None:
        raise ClaimNotFound(access.NO_CLAIM)
    visible, icb_code = _visible(session, principal, claim.pcn_code)
    if not visible:
        raise ClaimNotFound(access.NO_CLAIM)
    return claim, icb_code


def _require_status(claim: Claim, action: str, *allowed: str) -> None:
    if claim.status not in allowed:
        raise InvalidClaimTransition(
            f"Claim {claim.id} is {claim.status}; {action} needs it {' or '.join(allowed)}.",
            extra={"claim_id": claim.id, "claim_status": claim.status},
        )


# Preview and drafts


def preview(*, session: Session, catalogue: RoleCatalogue, principal: Principal, data: ClaimCreate) -> ClaimPreview:
    """Compute a claim and run every check, budget included; store nothing."""
    post = _managed_post(session, principal, data.post_id)
    c = compute(session, catalogue, post=post, month=data.month, inputs=data)
    balance = repo.get_balance(session, post.pcn_code, c.fy, c.pot)
    available = balance.available_pence if balance is not None else 0
    if c.result is not None and c.result.reimbursable_pence > available:
        c.fail(
            BudgetExceeded(
                f"The claim comes to {c.result.reimbursable_pence} pence; pot {c.pot} of {post.pcn_code} "
                f"has {available} pence available in {c.fy}.",
                extra={"pot": c.pot, "available_pence": available},
            )
        )
    c.raise_failures()
    assert c.result is not None
    return ClaimPreview(
        **_preview_fields(c),
        available_pence=available,
        fits_budget=True,
    )


def _preview_fields(c: Computed) -> dict[str, object]:
    fields = _computation_fields(c)
    assert c.post.id is not None and c.rate is not None
    return {
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
        "days_in_post": fields["days_in_post"],
        "days_in_month": fields["days_in_month"],
        "hours_per_week": rules.centi_to_hours(c.post.hours_per_week_centi),
        "wte": fields["wte"],
        "cap_pence": fields["cap_pence"],
        "fee_allowed_pence": fields["fee_allowed_pence"],
        "actual_pence": fields["actual_pence"],
        "funding_share": fields["funding_share"],
        "reimbursable_pence": fields["reimbursable_pence"],
        "rate_period": RatePeriodUsed(
            id=c.rate.id,
            effective_from=c.rate.effective_from,
            annual_max_pence=c.rate.annual_max_pence,
            geography=c.rate.geography,
            provenance=c.rate.provenance,
            source=c.rate.source,
        ),
        "estimated_rate": c.rate.provenance == "estimated",
    }


def _apply(claim: Claim, c: Computed) -> None:
    """Put a computation (and its inputs) on the claim row."""
    for name, value in _computation_fields(c).items():
        setattr(claim, name, value)
    claim.salary_pence = c.inputs.salary_pence
    claim.employer_ni_pence = c.inputs.employer_ni_pence
    claim.employer_pension_pence = c.inputs.employer_pension_pence
    claim.supplier_fee_pence = c.inputs.supplier_fee_pence
    claim.pot = c.pot
    if claim.kind == CLAIM:
        claim.amount_pence = claim.reimbursable_pence


def create_draft(
    *, session: Session, catalogue: RoleCatalogue, principal: Principal, data: ClaimCreate
) -> tuple[ClaimPublic, str]:
    """A draft: every check but ``budget-exceeded`` must pass (a failing check refuses it)."""
    post = _managed_post(session, principal, data.post_id)
    c = compute(session, catalogue, post=post, month=data.month, inputs=data)
    c.raise_failures()
    now = access.now()
    claim = Claim(
        **_computation_fields(c),
        kind=CLAIM,
        post_id=data.post_id,
        pcn_code=post.pcn_code,
        role_code=post.role_code,
        month=data.month,
        fy=c.fy,
        pot=c.pot,
        status="draft",
        salary_pence=data.salary_pence,
        employer_ni_pence=data.employer_ni_pence,
        employer_pension_pence=data.employer_pension_pence,
        supplier_fee_pence=data.supplier_fee_pence,
        amount_pence=c.result.reimbursable_pence if c.result else 0,
        version=1,
        created_at=now,
        created_by=access.actor(principal),
        updated_at=now,
        updated_by=access.actor(principal),
    )
    session.add(claim)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent draft for the same post and month won the race
        session.rollback()
        raise DuplicateClaim(f"A claim for post {data.post_id} and {data.month} was just made.") from exc
    _record(session, claim, action="create", principal=principal, now=now, reason=None)
    session.commit()
    return claim_public(session, claim), claim_etag(claim)


def update_draft(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    claim_id: int,
    data: ClaimUpdate,
    if_match: str | None,
) -> tuple[ClaimPublic, str]:
    claim = _pcn_claim(session, principal, claim_id)
    require_if_match(if_match, claim_etag(claim))
    _require_status(claim, "editing", "draft")
    post = repo.get_post(session, claim.post_id)
    assert post is not None
    changes = data.model_dump(exclude_unset=True)
    inputs = ClaimInput(
        salary_pence=_pick(changes, "salary_pence", claim.salary_pence),
        employer_ni_pence=_pick(changes, "employer_ni_pence", claim.employer_ni_pence),
        employer_pension_pence=_pick(changes, "employer_pension_pence", claim.employer_pension_pence),
        supplier_fee_pence=_pick(changes, "supplier_fee_pence", claim.supplier_fee_pence),
    )
    c = compute(session, catalogue, post=post, month=claim.month, inputs=inputs, exclude_claim_id=claim.id)
    c.raise_failures()
    now = access.now()
    _apply(claim, c)
    claim.version += 1
    claim.updated_at, claim.updated_by = now, access.actor(principal)
    _record(session, claim, action="edit", principal=principal, now=now, reason=None)
    session.commit()
    return claim_public(session, claim), claim_etag(claim)


def _pick(changes: dict[str, object], name: str, current: int) -> int:
    value = changes.get(name)
    return current if value is None else int(value)  # type: ignore[call-overload]


def get_claim(*, session: Session, principal: Principal, claim_id: int) -> tuple[ClaimPublic, str]:
    claim = _readable_claim(session, principal, claim_id)
    return claim_public(session, claim), claim_etag(claim)


def list_claims(
    *,
    session: Session,
    principal: Principal,
    pcn_code: str | None,
    month: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ClaimPublic], str | None]:
    visible = access.list_scope(principal)
    stmt = select(Claim).order_by(col(Claim.id))
    if not visible.everything:
        pcns_of_icbs = select(col(Pcn.code)).where(col(Pcn.icb_code).in_(visible.icb_codes))
        stmt = stmt.where(col(Claim.pcn_code).in_(pcns_of_icbs) | col(Claim.pcn_code).in_(visible.pcn_codes))
    if pcn_code is not None:
        stmt = stmt.where(col(Claim.pcn_code) == pcn_code.upper())
    if month is not None:
        stmt = stmt.where(col(Claim.month) == month)
    if status is not None:
        stmt = stmt.where(col(Claim.status) == status)
    after = access.after_id(cursor)
    if after is not None:
        stmt = stmt.where(col(Claim.id) > after)
    rows = session.scalars(stmt.limit(limit + 1)).all()
    page, next_cursor = next_cursor_for(rows, limit, lambda r: [r.id])
    events = _events_of(session, [r.id for r in page if r.id is not None])
    return [claim_public(session, r, events.get(r.id or 0, [])) for r in page], next_cursor


# The lifecycle


def _move(
    session: Session,
    claim: Claim,
    *,
    debit: str,
    credit: str,
    amount: int,
    kind: str,
    reason: str,
    principal: Principal,
    now: datetime,
    idempotency_key: str | None,
    balance: BudgetBalance | None = None,
) -> None:
    """Post one movement of the claim's money on its pot: on ``balance`` when the caller already
    holds the pot's row locked, otherwise locked here (always after the claim's row)."""
    if amount <= 0:
        return
    if balance is None:
        balance = repo.lock_balance(session, claim.pcn_code, claim.fy, claim.pot, now=now)
    budgets.post(
        session,
        balance,
        debit_account=debit,
        credit_account=credit,
        amount_pence=amount,
        kind=kind,
        reason=reason,
        principal=principal,
        now=now,
        reference=f"claim:{claim.id}",
        idempotency_key=idempotency_key,
    )


def _finish(
    session: Session,
    claim: Claim,
    *,
    status: str,
    action: str,
    principal: Principal,
    now: datetime,
    reason: str | None,
    claim_key: IdempotencyClaim | None,
) -> ClaimPublic:
    claim.status = status
    claim.version += 1
    claim.updated_at, claim.updated_by = now, access.actor(principal)
    _record(session, claim, action=action, principal=principal, now=now, reason=reason)
    session.flush()
    public = claim_public(session, claim)
    if claim_key is not None:
        claim_key.record(session, status=200, body=public.model_dump(mode="json"), location=f"/v1/claims/{claim.id}")
    session.commit()
    return public


def submit(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    claim_id: int,
    claim_key: IdempotencyClaim | None = None,
    idempotency_key: str | None = None,
) -> ClaimPublic:
    """draft → submitted: the checks run again on today's terms, then the amount moves from
    ``available`` to ``held`` in one step under the pot's lock (409 ``budget-exceeded`` otherwise)."""
    claim = _pcn_claim(session, principal, claim_id)
    _require_status(claim, "submitting", "draft")
    post = repo.get_post(session, claim.post_id)
    assert post is not None
    inputs = ClaimInput(
        salary_pence=claim.salary_pence,
        employer_ni_pence=claim.employer_ni_pence,
        employer_pension_pence=claim.employer_pension_pence,
        supplier_fee_pence=claim.supplier_fee_pence,
    )
    catalogue.role(post.role_code)  # read (or 503) before any lock is taken; then it is cached
    now = access.now()
    # The pot's lock first, so the cap check below sees every claim submitted before this one.
    balance = repo.lock_balance(session, claim.pcn_code, claim.fy, claim.pot, now=now)
    # No duplicate check: this draft is itself the post's one live claim for the month (the partial
    # unique index allows no other while it lives).
    c = compute(
        session,
        catalogue,
        post=post,
        month=claim.month,
        inputs=inputs,
        exclude_claim_id=claim.id,
        check_duplicate=False,
    )
    c.raise_failures()
    _apply(claim, c)
    if claim.pot != balance.pot:  # the year's pots changed since the draft (a GP rate was set)
        balance = repo.lock_balance(session, claim.pcn_code, claim.fy, claim.pot, now=now)
    _move(
        session,
        claim,
        debit="available",
        credit="held",
        amount=claim.amount_pence,
        kind="claim_hold",
        reason=f"claim {claim.id} submitted: {claim.role_code}, post {claim.post_id}, {claim.month}",
        principal=principal,
        now=now,
        idempotency_key=idempotency_key,
        balance=balance,
    )
    return _finish(
        session,
        claim,
        status="submitted",
        action="submit",
        principal=principal,
        now=now,
        reason=None,
        claim_key=claim_key,
    )


@dataclass(frozen=True, slots=True)
class _Decision:
    """A lifecycle step after submission: who takes it, from which statuses, to which."""

    gerund: str
    sources: tuple[str, ...]
    target: str
    by_icb: bool  # the PCN's ICB (or an admin) decides; otherwise the claim's PCN (or an admin)


_DECISIONS = {
    "approve": _Decision("approving", ("submitted",), "approved", by_icb=True),
    "reject": _Decision("rejecting", ("submitted",), "rejected", by_icb=True),
    "pay": _Decision("paying", ("approved",), "paid", by_icb=True),
    "withdraw": _Decision("withdrawing", ("draft", "submitted"), "withdrawn", by_icb=False),
}

# (from, to) → (debit, credit, posting kind) for money that was held; a draft holds nothing.
_MOVES = {
    ("submitted", "approved"): ("held", "approved", "claim_approval"),
    ("submitted", "rejected"): ("held", "available", "claim_release"),
    ("submitted", "withdrawn"): ("held", "available", "claim_release"),
    ("approved", "paid"): ("approved", "paid", "claim_payment"),
}
_RECOVERY = ("paid", "available", "claim_recovery")
"""Paying an adjustment that recovers money: the overpaid amount comes back to ``available``."""


def _decide(
    session: Session,
    principal: Principal,
    claim_id: int,
    action: str,
    *,
    note: str | None,
    claim_key: IdempotencyClaim | None,
    idempotency_key: str | None,
) -> ClaimPublic:
    rule = _DECISIONS[action]
    claim = (_icb_claim if rule.by_icb else _pcn_claim)(session, principal, claim_id)
    _require_status(claim, rule.gerund, *rule.sources)
    now = access.now()
    if claim.amount_pence > 0:
        move = _MOVES.get((claim.status, rule.target))
    else:  # a recovering adjustment moves money only when it is paid
        move = _RECOVERY if rule.target == "paid" else None
    if move is not None:
        debit, credit, kind = move
        what = "adjustment" if claim.kind == ADJUSTMENT else "claim"
        _move(
            session,
            claim,
            debit=debit,
            credit=credit,
            amount=abs(claim.amount_pence),
            kind=kind,
            reason=f"{what} {claim.id} {rule.target}" + (f": {note}" if note else ""),
            principal=principal,
            now=now,
            idempotency_key=idempotency_key,
        )
    if rule.target == "paid":
        claim.payment_reference = note
    return _finish(
        session,
        claim,
        status=rule.target,
        action=action,
        principal=principal,
        now=now,
        reason=note,
        claim_key=claim_key,
    )


def approve(
    *,
    session: Session,
    principal: Principal,
    claim_id: int,
    claim_key: IdempotencyClaim | None = None,
    idempotency_key: str | None = None,
) -> ClaimPublic:
    """submitted → approved (held → approved): the PCN's ICB or an admin."""
    return _decide(
        session, principal, claim_id, "approve", note=None, claim_key=claim_key, idempotency_key=idempotency_key
    )


def reject(
    *,
    session: Session,
    principal: Principal,
    claim_id: int,
    reason: str,
    claim_key: IdempotencyClaim | None = None,
    idempotency_key: str | None = None,
) -> ClaimPublic:
    """submitted → rejected with a reason (the hold is released): the PCN's ICB or an admin."""
    return _decide(
        session, principal, claim_id, "reject", note=reason, claim_key=claim_key, idempotency_key=idempotency_key
    )


def pay(
    *,
    session: Session,
    principal: Principal,
    claim_id: int,
    payment_reference: str,
    claim_key: IdempotencyClaim | None = None,
    idempotency_key: str | None = None,
) -> ClaimPublic:
    """approved → paid with the payment's reference (approved → paid, or a recovery paid →
    available): the PCN's ICB or an admin."""
    return _decide(
        session,
        principal,
        claim_id,
        "pay",
        note=payment_reference,
        claim_key=claim_key,
        idempotency_key=idempotency_key,
    )


def withdraw(
    *,
    session: Session,
    principal: Principal,
    claim_id: int,
    reason: str | None,
    claim_key: IdempotencyClaim | None = None,
    idempotency_key: str | None = None,
) -> ClaimPublic:
    """draft or submitted → withdrawn (a hold is released): the claim's PCN or an admin."""
    return _decide(
        session, principal, claim_id, "withdraw", note=reason, claim_key=claim_key, idempotency_key=idempotency_key
    )


# Adjustments to paid claims


def _net_claimed(session: Session, original: Claim) -> int:
    """What the paid claim and its adjustments that still count come to."""
    adjustments = select(func.coalesce(func.sum(col(Claim.amount_pence)), 0)).where(
        col(Claim.adjusts_claim_id) == original.id,
        col(Claim.status).in_(COUNTED),
    )
    return original.amount_pence + int(session.execute(adjustments).scalar_one())


def create_adjustment(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    claim_id: int,
    data: AdjustmentCreate,
    claim_key: IdempotencyClaim | None = None,
    idempotency_key: str | None = None,
) -> ClaimPublic:
    """Correct a paid claim: the claim is computed again with the corrected amounts on the terms it
    was paid on (its rate period), and the difference from what has been claimed so far becomes an
    adjustment claim, submitted at once for the ICB's decision. Its PCN, its ICB or an admin."""
    original, icb_code = _claim_for_write(session, principal, claim_id)
    if not (
        scope.may_manage_post(principal, pcn_code=original.pcn_code)
        or scope.may_manage_pcn(principal, icb_code=icb_code)
    ):
        raise Forbidden("Only the claim's PCN, its ICB or an admin adjusts a paid claim.")
    if original.kind != CLAIM:
        raise InvalidClaimTransition("An adjustment corrects a claim, not another adjustment.")
    _require_status(original, "an adjustment", "paid")
    post = repo.get_post(session, original.post_id)
    assert post is not None
    now = access.now()
    repo.lock_balance(session, original.pcn_code, original.fy, original.pot, now=now)
    c = compute(
        session,
        catalogue,
        post=post,
        month=original.month,
        inputs=data,
        check_duplicate=False,
        exclude_claim_id=original.id,
    )
    # The month has ended and the claim was paid: only the checks about the amounts apply again.
    c.failures = [f for f in c.failures if isinstance(f, SupplierFeeNotAllowed | RoleNotClaimable | RateNotPublished)]
    c.raise_failures()
    assert c.result is not None
    delta = c.result.reimbursable_pence - _net_claimed(session, original)
    if delta == 0:
        raise AdjustmentNotNeeded(
            f"The corrected amounts come to {c.result.reimbursable_pence} pence, what claim {claim_id} already claims."
        )
    adjustment = Claim(
        **_computation_fields(c),
        kind=ADJUSTMENT,
        adjusts_claim_id=original.id,
        post_id=original.post_id,
        pcn_code=original.pcn_code,
        role_code=original.role_code,
        month=original.month,
        fy=original.fy,
        pot=original.pot,
        status="submitted",
        salary_pence=data.salary_pence,
        employer_ni_pence=data.employer_ni_pence,
        employer_pension_pence=data.employer_pension_pence,
        supplier_fee_pence=data.supplier_fee_pence,
        amount_pence=delta,
        version=1,
        created_at=now,
        created_by=access.actor(principal),
        updated_at=now,
        updated_by=access.actor(principal),
    )
    session.add(adjustment)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise AdjustmentPending(f"Claim {claim_id} already has an adjustment awaiting a decision.") from exc
    _record(session, adjustment, action="create", principal=principal, now=now, reason=data.reason)
    _move(
        session,
        adjustment,
        debit="available",
        credit="held",
        amount=delta,
        kind="claim_hold",
        reason=f"adjustment {adjustment.id} of claim {original.id}: {data.reason}",
        principal=principal,
        now=now,
        idempotency_key=idempotency_key,
    )
    session.flush()
    public = claim_public(session, adjustment)
    if claim_key is not None:
        claim_key.record(
            session, status=201, body=public.model_dump(mode="json"), location=f"/v1/claims/{adjustment.id}"
        )
    session.commit()
    return public
