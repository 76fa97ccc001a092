"""A claim's lifecycle after the draft (domain §6): submit, approve, reject, pay, withdraw, each a
transition of :mod:`budget.domain.claim_states` that moves the claim's money on its pot through
:func:`budget.service.postings.add_posting`, on the pot's balance row locked first, so the ``available``
check and the hold are one atomic step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from arrs_kit.context import current_request_id
from arrs_kit.idempotency import KeyLease
from arrs_kit.metrics import count_on_commit
from arrs_kit.principal import Principal
from budget.clients.roles import RoleCatalogue
from budget.domain import claim_states
from budget.domain.claim_states import ClaimAction, ClaimKind, ClaimStatus, Transition
from budget.errors import InvalidClaimTransition
from budget.metrics import CLAIM_TRANSITIONS
from budget.models import BudgetBalance, Claim, ClaimEvent
from budget.repository import claims as claims_repo
from budget.repository import ledger as ledger_repo
from budget.schemas.claims import ClaimInput, ClaimPublic
from budget.service import common, postings
from budget.service.claims.compute import apply, compute
from budget.service.claims.presenters import claim_public


def require_status(claim: Claim, transition: Transition) -> None:
    """409 ``invalid-claim-transition`` unless the transition applies to the claim: an adjustment is
    of a claim (never of an adjustment), and the claim is in one of the transition's sources."""
    if transition is claim_states.ADJUST and claim.kind not in claim_states.ADJUSTABLE_KINDS:
        raise InvalidClaimTransition("An adjustment corrects a claim, not another adjustment.")
    if not claim_states.allowed(transition, claim.status):
        raise InvalidClaimTransition(
            f"Claim {claim.id} is {claim.status}; {transition.gerund} needs it {' or '.join(transition.sources)}.",
            extra={"claim_id": claim.id, "claim_status": claim.status},
        )


def record_event(
    session: Session, claim: Claim, *, action: ClaimAction, principal: Principal, now: datetime, reason: str | None
) -> ClaimEvent:
    """Add the claim's new status to its history, written at once (a plain INSERT: no ORM object in
    the session); answers the event as written, not bound to the session."""
    assert claim.id is not None
    values: dict[str, Any] = {
        "claim_id": claim.id,
        "status": claim.status,
        "action": action,
        "at": now,
        "by": common.actor(principal),
        "reason": reason,
        "request_id": current_request_id(),
    }
    claims_repo.insert_event(session, values)
    return ClaimEvent(**values)


def move_money(
    session: Session,
    claim: Claim,
    move: claim_states.Move,
    *,
    amount: int,
    reason: str,
    principal: Principal,
    now: datetime,
    idempotency_key: str | None,
    balance: BudgetBalance | None = None,
) -> None:
    """Post one movement of the claim's money on its pot: on ``balance`` when the caller already
    holds the pot's row locked, otherwise locked here (always after the claim's row). The posting is
    written at once, the balance with the caller's next flush."""
    if amount <= 0:
        return
    if balance is None:
        balance = ledger_repo.lock_balance(session, claim.pcn_code, claim.fy, claim.pot, now=now)
    postings.add_posting(
        session,
        balance,
        debit_account=move.debit,
        credit_account=move.credit,
        amount_pence=amount,
        kind=move.kind,
        reason=reason,
        principal=principal,
        now=now,
        reference=f"claim:{claim.id}",
        idempotency_key=idempotency_key,
    )


def _answer(session: Session, claim: Claim, lease: KeyLease | None) -> ClaimPublic:
    """Commit the claim's step, recording its answer on the lease."""
    session.flush()
    public = claim_public(session, claim)
    if lease is not None:
        lease.record(session, status=200, body=public.model_dump(mode="json"), location=f"/v1/claims/{claim.id}")
    session.commit()
    return public


def submit(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    claim: Claim,
    lease: KeyLease | None = None,
) -> ClaimPublic:
    """draft → submitted (``claim`` locked, :data:`budget.deps.PcnClaim`): the checks run again on
    today's terms, then the amount moves from ``available`` to ``held`` in one step under the pot's
    lock (409 ``budget-exceeded`` otherwise)."""
    require_status(claim, claim_states.SUBMIT)
    catalogue.role(claim.role_code)  # read (or 503) before any lock is taken; then it is cached
    now = common.now()
    # The pot's lock first, so the cap check below sees every claim submitted before this one.
    balance = ledger_repo.lock_balance(session, claim.pcn_code, claim.fy, claim.pot, now=now)
    hold(
        session,
        catalogue,
        principal,
        claim,
        {claim.pot: balance},
        now=now,
        idempotency_key=lease.key if lease else None,
    )
    return _answer(session, claim, lease)


def hold(
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    claim: Claim,
    balances: dict[str, BudgetBalance],
    *,
    now: datetime,
    idempotency_key: str | None,
) -> None:
    """draft → submitted, not committed: the checks run again on today's terms, then the amount moves
    from ``available`` to ``held`` on the pot's balance (locked by the caller, in ``balances``; one
    more is locked here if the year's pots changed since the draft). Raises the failed checks, or 409
    ``budget-exceeded`` with nothing moved."""
    basis = claims_repo.basis_of(session, claim.post_id, claim.fy)
    assert basis is not None  # a claim's post is a foreign key
    inputs = ClaimInput(
        salary_pence=claim.salary_pence,
        employer_ni_pence=claim.employer_ni_pence,
        employer_pension_pence=claim.employer_pension_pence,
        supplier_fee_pence=claim.supplier_fee_pence,
    )
    # No duplicate check: this draft is itself the post's one live claim for the month (the partial
    # unique index allows no other while it lives).
    c = compute(
        session,
        catalogue,
        post=basis.post,
        month=claim.month,
        inputs=inputs,
        exclude_claim_id=claim.id,
        check_duplicate=False,
        basis=basis,
    )
    c.raise_failures()
    apply(claim, c)
    if claim.pot not in balances:  # the year's pots changed since the draft (a GP rate was set)
        balances[claim.pot] = ledger_repo.lock_balance(session, claim.pcn_code, claim.fy, claim.pot, now=now)
    move_money(
        session,
        claim,
        claim_states.HOLD,
        amount=claim.amount_pence,
        reason=f"claim {claim.id} submitted: {claim.role_code}, post {claim.post_id}, {claim.month}",
        principal=principal,
        now=now,
        idempotency_key=idempotency_key,
        balance=balances[claim.pot],
    )
    _mark(
        session,
        claim,
        status=ClaimStatus.SUBMITTED,
        action=ClaimAction.SUBMIT,
        principal=principal,
        now=now,
        reason=None,
    )
    session.flush()


def step(
    session: Session,
    principal: Principal,
    claim: Claim,
    transition: Transition,
    *,
    note: str | None,
    now: datetime,
    idempotency_key: str | None,
) -> None:
    """Move a claim one step after submission (its money, status, version and history), not
    committed: the caller holds the claim's row locked."""
    require_status(claim, transition)
    move = claim_states.move_for(claim.status, transition.target, amount_pence=claim.amount_pence)
    if move is not None:
        what = "adjustment" if claim.kind == ClaimKind.ADJUSTMENT else "claim"
        move_money(
            session,
            claim,
            move,
            amount=abs(claim.amount_pence),
            reason=f"{what} {claim.id} {transition.target}" + (f": {note}" if note else ""),
            principal=principal,
            now=now,
            idempotency_key=idempotency_key,
        )
    if transition.target is ClaimStatus.PAID:
        claim.payment_reference = note
    _mark(session, claim, status=transition.target, action=transition.action, principal=principal, now=now, reason=note)


def _mark(
    session: Session,
    claim: Claim,
    *,
    status: ClaimStatus,
    action: ClaimAction,
    principal: Principal,
    now: datetime,
    reason: str | None,
) -> None:
    claim.status = status
    count_on_commit(session, CLAIM_TRANSITIONS, kind=str(claim.kind), action=str(action), status=str(status))
    claim.version += 1
    claim.updated_at, claim.updated_by = now, common.actor(principal)
    record_event(session, claim, action=action, principal=principal, now=now, reason=reason)


def _decide(
    session: Session,
    principal: Principal,
    claim: Claim,
    transition: Transition,
    *,
    note: str | None,
    lease: KeyLease | None,
) -> ClaimPublic:
    """A step after submission on a claim its taker may act on (the route's dependency checked it)."""
    step(
        session, principal, claim, transition, note=note, now=common.now(), idempotency_key=lease.key if lease else None
    )
    return _answer(session, claim, lease)


def approve(*, session: Session, principal: Principal, claim: Claim, lease: KeyLease | None = None) -> ClaimPublic:
    """submitted → approved (held → approved): the PCN's ICB or an admin (:data:`budget.deps.IcbClaim`)."""
    return _decide(session, principal, claim, claim_states.APPROVE, note=None, lease=lease)


def reject(
    *, session: Session, principal: Principal, claim: Claim, reason: str, lease: KeyLease | None = None
) -> ClaimPublic:
    """submitted → rejected with a reason (the hold is released): the PCN's ICB or an admin."""
    return _decide(session, principal, claim, claim_states.REJECT, note=reason, lease=lease)


def pay(
    *, session: Session, principal: Principal, claim: Claim, payment_reference: str, lease: KeyLease | None = None
) -> ClaimPublic:
    """approved → paid with the payment's reference (approved → paid, or a recovery paid →
    available): the PCN's ICB or an admin."""
    return _decide(session, principal, claim, claim_states.PAY, note=payment_reference, lease=lease)


def withdraw(
    *, session: Session, principal: Principal, claim: Claim, reason: str | None, lease: KeyLease | None = None
) -> ClaimPublic:
    """draft or submitted → withdrawn (a hold is released): the claim's PCN or an admin
    (:data:`budget.deps.PcnClaim`)."""
    return _decide(session, principal, claim, claim_states.WITHDRAW, note=reason, lease=lease)
