"""Monthly claim returns (domain §6): the national portal's one return per PCN and month, a line per
employee. Its lines are the PCN's claims of the month; submitting the return holds every line in one
step (all, or none with every refused line listed); the ICB approves or rejects by line or whole, and
one payment reference pays its approved lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.idempotency import KeyLease
from arrs_kit.pagination import next_cursor_for
from arrs_kit.principal import Principal
from arrs_kit.problems import ProblemError
from budget.clients.roles import RoleCatalogue
from budget.domain import claim_states
from budget.domain.calendar import financial_year, fy_of_month
from budget.domain.claim_states import ClaimStatus, Transition
from budget.errors import (
    ClaimReturnExists,
    InvalidReturnTransition,
    PcnNotFound,
    ReturnEmpty,
    ReturnLinesUndecided,
    ReturnNotDeclared,
    ReturnRefused,
)
from budget.models import POTS, BudgetBalance, Claim, ClaimReturn, ReturnStatus
from budget.repository import claim_returns as returns_repo
from budget.repository import claims as claims_repo
from budget.repository import ledger as ledger_repo
from budget.repository import listing
from budget.repository import register as register_repo
from budget.schemas.claim_returns import ClaimReturnCreate, ClaimReturnPublic, ReturnTotals
from budget.service import authz, common
from budget.service.claims import lifecycle
from budget.service.claims.presenters import claim_public

NOT_COUNTED = (ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN)


def return_public(session: Session, found: ClaimReturn, lines: Sequence[Claim] | None = None) -> ClaimReturnPublic:
    """A return with its lines (read here unless given) and their totals."""
    if lines is None:
        lines = claims_repo.claims_of_month(session, found.pcn_code, found.month)
    events = claims_repo.events_of(session, [cast(int, c.id) for c in lines])
    by_status: dict[str, int] = {}
    for line in lines:
        by_status[line.status] = by_status.get(line.status, 0) + 1
    totals = ReturnTotals(
        lines=len(lines),
        reimbursable_pence=sum(c.reimbursable_pence for c in lines if c.status not in NOT_COUNTED),
        by_status=by_status,
    )
    values: dict[str, Any] = {c: getattr(found, c) for c in ClaimReturn.model_fields}
    return ClaimReturnPublic.model_validate(
        values | {"totals": totals, "lines": [claim_public(session, c, events.get(cast(int, c.id), [])) for c in lines]}
    )


def create_return(*, session: Session, principal: Principal, data: ClaimReturnCreate) -> ClaimReturnPublic:
    """The PCN (or an admin): open the return of a month; the month's claims are its lines."""
    authz.require_post_creator(principal, pcn_code=data.pcn_code)
    fy = fy_of_month(data.month)
    financial_year(fy)  # 422 invalid-financial-year for a month of no year the scheme counts
    if register_repo.get_pcn(session, data.pcn_code) is None:
        raise PcnNotFound(authz.NO_PCN)
    existing = returns_repo.return_of(session, data.pcn_code, data.month)
    if existing is not None:
        raise ClaimReturnExists(
            f"PCN {data.pcn_code} has return {existing.id} for {data.month}.", extra={"claim_return_id": existing.id}
        )
    now, who = common.now(), common.actor(principal)
    found = ClaimReturn(
        pcn_code=data.pcn_code,
        month=data.month,
        fy=fy,
        payee_code=data.payee_code,
        status=ReturnStatus.OPEN,
        version=1,
        created_at=now,
        created_by=who,
        updated_at=now,
        updated_by=who,
    )
    session.add(found)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request opened it first
        session.rollback()
        raise ClaimReturnExists(f"PCN {data.pcn_code} has a return for {data.month}.") from exc
    public = return_public(session, found)
    session.commit()
    return public


def list_returns(
    *,
    session: Session,
    principal: Principal,
    pcn_code: str | None,
    month: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ClaimReturnPublic], str | None]:
    rows = listing.monthly_list(
        session,
        ClaimReturn,
        scope=authz.list_scope(principal),
        pcn_code=common.normalise_code(pcn_code) if pcn_code else None,
        month=month,
        status=status,
        after_id=common.after_id(cursor),
        limit=limit + 1,
    )
    page, next_cursor = next_cursor_for(rows, limit, lambda r: (r.id,))
    return [return_public(session, r) for r in page], next_cursor


def _require(found: ClaimReturn, *allowed: ReturnStatus, doing: str) -> None:
    if found.status not in allowed:
        raise InvalidReturnTransition(
            f"Return {found.id} is {found.status}; {doing} needs it {' or '.join(allowed)}.",
            extra={"claim_return_id": found.id, "return_status": found.status},
        )


def _touch(found: ClaimReturn, principal: Principal) -> None:
    found.version += 1
    found.updated_at, found.updated_by = common.now(), common.actor(principal)


def _finish(session: Session, found: ClaimReturn, lease: KeyLease | None) -> ClaimReturnPublic:
    session.flush()
    public = return_public(session, found)
    if lease is not None:
        location = f"/v1/claim-returns/{found.id}"
        lease.record(session, status=200, body=public.model_dump(mode="json"), location=location)
    session.commit()
    return public


def declare(*, session: Session, principal: Principal, found: ClaimReturn, declaration: str) -> ClaimReturnPublic:
    """Record the declaration (its text, who and when) on an open return: a new one replaces it."""
    _require(found, ReturnStatus.OPEN, doing="declaring")
    found.declaration = declaration
    found.declared_by, found.declared_at = common.actor(principal), common.now()
    _touch(found, principal)
    return _finish(session, found, None)


def submit(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    found: ClaimReturn,
    lease: KeyLease | None = None,
) -> ClaimReturnPublic:
    """Submit every draft line in one step: each is checked and held as a claim's submission is, on
    the pots locked once; if any line is refused, none is held and every refused line is listed
    (409 ``return-refused``)."""
    _require(found, ReturnStatus.OPEN, doing="submitting")
    if not found.declaration:
        raise ReturnNotDeclared(f"Declare return {found.id} first (POST /v1/claim-returns/{found.id}/declare).")
    lines = claims_repo.claims_of_month(session, found.pcn_code, found.month)
    drafts = [c for c in lines if c.status == ClaimStatus.DRAFT]
    if not drafts:
        raise ReturnEmpty(f"Return {found.id} has no draft line: draft the month's claims first.")
    for role_code in sorted({c.role_code for c in drafts}):
        catalogue.role(role_code)  # read (or 503) before any lock is taken; then cached
    now = common.now()
    locked = claims_repo.lock_claims(session, [cast(int, c.id) for c in drafts])  # claims first, by id
    balances: dict[str, BudgetBalance] = {
        pot: ledger_repo.lock_balance(session, found.pcn_code, found.fy, pot, now=now)
        for pot in POTS
        if pot in {c.pot for c in locked}
    }
    refused: list[dict[str, Any]] = []
    for claim in locked:
        try:
            with session.begin_nested():
                if claim.status != ClaimStatus.DRAFT:  # submitted on its own since the lines were read
                    continue
                lifecycle.hold(
                    session,
                    catalogue,
                    principal,
                    claim,
                    balances,
                    now=now,
                    idempotency_key=lease.key if lease else None,
                )
        except ProblemError as error:
            checks = error.extra.get("checks") or [{"code": error.code, "status": error.status, "detail": error.detail}]
            refused.append({"claim_id": claim.id, "post_id": claim.post_id, "checks": checks})
    if refused:
        session.rollback()
        raise ReturnRefused(
            f"{len(refused)} of {len(drafts)} lines of return {found.id} were refused; none was submitted.",
            extra={"claim_return_id": found.id, "lines": refused},
        )
    found.status = ReturnStatus.SUBMITTED
    found.submitted_by, found.submitted_at = common.actor(principal), now
    _touch(found, principal)
    return _finish(session, found, lease)


def _decide_lines(
    session: Session,
    principal: Principal,
    found: ClaimReturn,
    transition: Transition,
    claim_ids: Sequence[int] | None,
    *,
    note: str | None,
    lease: KeyLease | None,
) -> None:
    """Take ``transition`` on the named lines (default: every line it applies to), all or none."""
    lines = claims_repo.claims_of_month(session, found.pcn_code, found.month)
    ids = {cast(int, c.id) for c in lines}
    if claim_ids is not None:
        strangers = sorted(set(claim_ids) - ids)
        if strangers:
            raise InvalidReturnTransition(
                f"Claims {strangers} are not lines of return {found.id}.", extra={"claim_ids": strangers}
            )
        wanted = set(claim_ids)
    else:
        wanted = {cast(int, c.id) for c in lines if claim_states.allowed(transition, c.status)}
    if not wanted:
        raise InvalidReturnTransition(f"Return {found.id} has no line for {transition.gerund}.")
    now = common.now()
    for claim in claims_repo.lock_claims(session, sorted(wanted)):
        lifecycle.step(
            session, principal, claim, transition, note=note, now=now, idempotency_key=lease.key if lease else None
        )


def approve(
    *,
    session: Session,
    principal: Principal,
    found: ClaimReturn,
    claim_ids: Sequence[int] | None,
    lease: KeyLease | None,
) -> ClaimReturnPublic:
    """The ICB approves the named submitted lines, or every one (held → approved)."""
    _require(found, ReturnStatus.SUBMITTED, doing="approving")
    _decide_lines(session, principal, found, claim_states.APPROVE, claim_ids, note=None, lease=lease)
    _touch(found, principal)
    return _finish(session, found, lease)


def reject(
    *,
    session: Session,
    principal: Principal,
    found: ClaimReturn,
    claim_ids: Sequence[int] | None,
    reason: str,
    lease: KeyLease | None,
) -> ClaimReturnPublic:
    """The ICB rejects the named submitted lines, or every one, with a reason (holds released)."""
    _require(found, ReturnStatus.SUBMITTED, doing="rejecting")
    _decide_lines(session, principal, found, claim_states.REJECT, claim_ids, note=reason, lease=lease)
    _touch(found, principal)
    return _finish(session, found, lease)


def pay(
    *, session: Session, principal: Principal, found: ClaimReturn, payment_reference: str, lease: KeyLease | None
) -> ClaimReturnPublic:
    """One payment reference pays every approved line; refused while a line awaits a decision."""
    _require(found, ReturnStatus.SUBMITTED, doing="paying")
    lines = claims_repo.claims_of_month(session, found.pcn_code, found.month)
    waiting = [c.id for c in lines if c.status == ClaimStatus.SUBMITTED]
    if waiting:
        raise ReturnLinesUndecided(
            f"Lines {waiting} of return {found.id} await a decision.", extra={"claim_ids": waiting}
        )
    if any(c.status == ClaimStatus.APPROVED for c in lines):
        _decide_lines(session, principal, found, claim_states.PAY, None, note=payment_reference, lease=lease)
    found.status = ReturnStatus.PAID
    found.payment_reference = payment_reference
    found.paid_by, found.paid_at = common.actor(principal), common.now()
    _touch(found, principal)
    return _finish(session, found, lease)
