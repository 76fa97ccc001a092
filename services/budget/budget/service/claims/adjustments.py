"""Adjustments to paid claims (domain §6): the claim computed again with corrected amounts on the
terms it was paid on, the difference becoming an adjustment claim submitted at once."""

from __future__ import annotations

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
from budget.schemas.claims import AdjustmentCreate, ClaimPublic
from budget.service import common
from budget.service.claims.compute import compute, row_of
from budget.service.claims.lifecycle import move_money, record_event, require_status
from budget.service.claims.presenters import claim_public
from budget.service.claims.segments import paid_terms_of


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
    was paid on (its rate period and hours), and the difference from what has been claimed so far becomes an
    adjustment claim, submitted at once for the ICB's decision. ``original``: locked, and one its
    PCN, its ICB or an admin adjusts (:data:`budget.deps.AdjustableClaim`)."""
    require_status(original, claim_states.ADJUST)
    post = posts_repo.get_post(session, original.post_id)
    assert post is not None
    now = common.now()
    ledger_repo.lock_balance(session, original.pcn_code, original.fy, original.pot, now=now)
    c = compute(
        session,
        catalogue,
        post=post,
        month=original.month,
        inputs=data,
        check_duplicate=False,
        exclude_claim_id=original.id,
        # The terms it was paid on: the hours of each segment and its rate period, even where the
        # post's terms have changed or a correction has superseded the rate since.
        paid_on=paid_terms_of(original),
    )
    # The month has ended and the claim was paid: only the checks about the amounts (and a closed
    # year) apply again.
    kept = SupplierFeeNotAllowed | RoleNotClaimable | RateNotPublished | FinancialYearClosed
    c.failures = [f for f in c.failures if isinstance(f, kept)]
    c.raise_failures()
    assert c.result is not None
    delta = c.result.reimbursable_pence - (
        original.amount_pence + claims_repo.counted_adjustments_pence(session, original.id)
    )
    if delta == 0:
        raise AdjustmentNotNeeded(
            f"The corrected amounts come to {c.result.reimbursable_pence} pence, "
            f"what claim {original.id} already claims."
        )
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
    except IntegrityError as exc:
        session.rollback()
        raise AdjustmentPending(f"Claim {original.id} already has an adjustment awaiting a decision.") from exc
    record_event(session, adjustment, action=ClaimAction.CREATE, principal=principal, now=now, reason=data.reason)
    move_money(
        session,
        adjustment,
        claim_states.HOLD,
        amount=delta,
        reason=f"adjustment {adjustment.id} of claim {original.id}: {data.reason}",
        principal=principal,
        now=now,
        idempotency_key=lease.key if lease else None,
    )
    session.flush()
    public = claim_public(session, adjustment)
    if lease is not None:
        lease.record(session, status=201, body=public.model_dump(mode="json"), location=f"/v1/claims/{adjustment.id}")
    session.commit()
    return public
