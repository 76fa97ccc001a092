"""Adjustments to paid claims (domain §6): the claim computed again with corrected amounts on the
terms it was paid on, the difference becoming an adjustment claim submitted at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.idempotency import KeyLease
from arrs_kit.principal import Principal
from budget.clients.roles import RoleCatalogue
from budget.domain import claim_states
from budget.domain.claim_states import ClaimAction, ClaimKind, ClaimStatus
from budget.errors import (
    AdjustmentNotNeeded,
    AdjustmentPending,
    FinancialYearClosed,
    RateNotPublished,
    RoleNotClaimable,
    SupplierFeeNotAllowed,
)
from budget.models import Claim
from budget.repository import claims as claims_repo
from budget.repository import ledger as ledger_repo
from budget.repository import posts as posts_repo
from budget.schemas.claims import AdjustmentCreate, ClaimInput, ClaimPublic
from budget.service import common
from budget.service.claims.compute import Computed, compute, row_of
from budget.service.claims.lifecycle import move_money, record_event, require_status
from budget.service.claims.presenters import claim_public
from budget.service.claims.segments import PaidTerms, paid_terms_of


def recompute(
    session: Session, catalogue: RoleCatalogue, original: Claim, inputs: ClaimInput, paid_on: PaidTerms
) -> Computed:
    """A paid claim computed again with ``inputs`` on ``paid_on`` (the terms and rates it was paid on,
    or an uplift's): only the checks about the amounts (and a closed year) apply again."""
    post = posts_repo.get_post(session, original.post_id)
    assert post is not None
    c = compute(
        session,
        catalogue,
        post=post,
        month=original.month,
        inputs=inputs,
        check_duplicate=False,
        exclude_claim_id=original.id,
        paid_on=paid_on,
    )
    kept = SupplierFeeNotAllowed | RoleNotClaimable | RateNotPublished | FinancialYearClosed
    c.failures = [f for f in c.failures if isinstance(f, kept)]
    c.raise_failures()
    assert c.result is not None
    return c


def standing(session: Session, original: Claim) -> Claim:
    """The row a paid claim stands on now: its latest adjustment that counts (a correction's amounts,
    an uplift's rate), else the claim itself."""
    latest = claims_repo.latest_counted_adjustment(session, original.id)
    return latest if latest is not None and latest.segments else original


def standing_terms(session: Session, original: Claim) -> PaidTerms:
    """The terms and rates a paid claim stands on now (:func:`standing`)."""
    return paid_terms_of(standing(session, original))


def claimed_so_far(session: Session, original: Claim) -> int:
    """What a claim comes to with its adjustments that still count."""
    return original.amount_pence + claims_repo.counted_adjustments_pence(session, original.id)


def add_adjustment(
    session: Session,
    principal: Principal,
    original: Claim,
    c: Computed,
    *,
    delta: int,
    reason: str,
    now: datetime,
    idempotency_key: str | None,
) -> Claim:
    """The adjustment claim of ``delta`` on ``original``, submitted at once (its hold moved), not
    committed; 409 ``adjustment-pending`` when one awaits a decision already."""
    pending = AdjustmentPending(
        f"Claim {original.id} already has an adjustment awaiting a decision.", extra={"claim_id": original.id}
    )
    if claims_repo.pending_adjustment_id(session, original.id) is not None:
        raise pending
    adjustment = row_of(
        c,
        kind=ClaimKind.ADJUSTMENT,
        adjusts_claim_id=original.id,
        pot=original.pot,  # the pot its claim drew on, whatever the year's pots are now
        status=ClaimStatus.SUBMITTED,
        amount_pence=delta,
        version=1,
        created_at=now,
        created_by=common.actor(principal),
        updated_at=now,
        updated_by=common.actor(principal),
    )
    session.add(adjustment)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request added one first
        session.rollback()
        raise pending from exc
    record_event(session, adjustment, action=ClaimAction.CREATE, principal=principal, now=now, reason=reason)
    move_money(
        session,
        adjustment,
        claim_states.HOLD,
        amount=delta,
        reason=f"adjustment {adjustment.id} of claim {original.id}: {reason}",
        principal=principal,
        now=now,
        idempotency_key=idempotency_key,
    )
    session.flush()
    return adjustment


def create_adjustment(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    original: Claim,
    data: AdjustmentCreate,
    lease: KeyLease | None = None,
) -> ClaimPublic:
    """Correct a paid claim: the claim is computed again with the corrected amounts on the terms it
    was paid on (the hours of each segment and its rate period, even where the post's terms have
    changed or a correction has superseded the rate since; after an uplift, the uplift's), and the
    difference from what has been claimed so far becomes an adjustment claim, submitted at once for
    the ICB's decision. ``original``: locked, and one its PCN, its ICB or an admin adjusts
    (:data:`budget.deps.AdjustableClaim`)."""
    require_status(original, claim_states.ADJUST)
    now = common.now()
    ledger_repo.lock_balance(session, original.pcn_code, original.fy, original.pot, now=now)
    c = recompute(session, catalogue, original, data, standing_terms(session, original))
    assert c.result is not None
    delta = c.result.reimbursable_pence - claimed_so_far(session, original)
    if delta == 0:
        raise AdjustmentNotNeeded(
            f"The corrected amounts come to {c.result.reimbursable_pence} pence, "
            f"what claim {original.id} already claims."
        )
    key = lease.key if lease else None
    adjustment = add_adjustment(
        session, principal, original, c, delta=delta, reason=data.reason, now=now, idempotency_key=key
    )
    public = claim_public(session, adjustment)
    if lease is not None:
        lease.record(session, status=201, body=public.model_dump(mode="json"), location=f"/v1/claims/{adjustment.id}")
    session.commit()
    return public
