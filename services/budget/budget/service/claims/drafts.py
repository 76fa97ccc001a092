"""Claims before submission: a preview (nothing stored), drafts made and edited, and reads."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.etag import require_if_match
from arrs_kit.pagination import next_cursor_for
from arrs_kit.principal import Principal
from budget.clients.roles import RoleCatalogue
from budget.domain import claim_states
from budget.domain.claim_states import ClaimAction, ClaimKind, ClaimStatus
from budget.errors import BudgetExceeded, DuplicateClaim
from budget.models import Claim
from budget.repository import claims as claims_repo
from budget.repository import ledger as ledger_repo
from budget.repository import posts as posts_repo
from budget.schemas.claims import ClaimCreate, ClaimInput, ClaimPreview, ClaimPublic, ClaimUpdate
from budget.service import authz, common
from budget.service.claims.compute import apply, compute, row_of
from budget.service.claims.lifecycle import record_event, require_status
from budget.service.claims.presenters import claim_etag, claim_public, preview_public

NOT_CLAIMANT = "Only the post's PCN or an admin makes its claims."


def preview(*, session: Session, catalogue: RoleCatalogue, principal: Principal, data: ClaimCreate) -> ClaimPreview:
    """Compute a claim for a post the principal claims for and run every check, budget included;
    store nothing."""
    post = authz.owned_post(session, principal, data.post_id, for_update=False, forbidden=NOT_CLAIMANT)
    c = compute(session, catalogue, post=post, month=data.month, inputs=data)
    balance = ledger_repo.get_balance(session, post.pcn_code, c.fy, c.pot)
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
    return preview_public(row_of(c), available_pence=available)


def create_draft(
    *, session: Session, catalogue: RoleCatalogue, principal: Principal, data: ClaimCreate
) -> tuple[ClaimPublic, str]:
    """A draft for a post the principal claims for: every check but ``budget-exceeded`` must pass (a
    failing check refuses it)."""
    post = authz.owned_post(session, principal, data.post_id, for_update=False, forbidden=NOT_CLAIMANT)
    c = compute(session, catalogue, post=post, month=data.month, inputs=data)
    c.raise_failures()
    now = common.now()
    claim = row_of(
        c,
        kind=ClaimKind.CLAIM,
        status=ClaimStatus.DRAFT,
        amount_pence=c.result.reimbursable_pence if c.result else 0,
        version=1,
        created_at=now,
        created_by=common.actor(principal),
        updated_at=now,
        updated_by=common.actor(principal),
    )
    session.add(claim)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent draft for the same post and month won the race
        session.rollback()
        raise DuplicateClaim(f"A claim for post {data.post_id} and {data.month} was just made.") from exc
    event = record_event(session, claim, action=ClaimAction.CREATE, principal=principal, now=now, reason=None)
    session.commit()
    return claim_public(session, claim, [event]), claim_etag(claim)  # a new claim's history: its creation


def update_draft(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    claim: Claim,
    data: ClaimUpdate,
    if_match: str | None,
) -> tuple[ClaimPublic, str]:
    """The claim's PCN or an admin (``claim`` locked, :data:`budget.deps.PcnClaim`): change a draft's
    amounts; it is computed and checked again."""
    require_if_match(if_match, claim_etag(claim))
    require_status(claim, claim_states.EDIT)
    post = posts_repo.get_post(session, claim.post_id)
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
    now = common.now()
    apply(claim, c)
    claim.version += 1
    claim.updated_at, claim.updated_by = now, common.actor(principal)
    record_event(session, claim, action=ClaimAction.EDIT, principal=principal, now=now, reason=None)
    session.flush()
    public = claim_public(session, claim)  # its history read in the edit's transaction, not after it
    session.commit()
    return public, claim_etag(claim)


def _pick(changes: dict[str, object], name: str, current: int) -> int:
    value = changes.get(name)
    return current if value is None else int(value)  # type: ignore[call-overload]


def get_claim(*, session: Session, claim: Claim) -> tuple[ClaimPublic, str]:
    """A readable claim with its history, and its ETag."""
    return claim_public(session, claim), claim_etag(claim)


def list_claims(
    *,
    session: Session,
    principal: Principal,
    pcn_code: str | None,
    month: str | None,
    status: ClaimStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ClaimPublic], str | None]:
    rows = claims_repo.list_claims(
        session,
        scope=authz.list_scope(principal),
        pcn_code=pcn_code.upper() if pcn_code is not None else None,
        month=month,
        status=status,
        after_id=common.after_id(cursor),
        limit=limit + 1,
    )
    page, next_cursor = next_cursor_for(rows, limit, lambda r: [r.id])
    events = claims_repo.events_of(session, [r.id for r in page if r.id is not None])
    return [claim_public(session, r, events.get(r.id or 0, [])) for r in page], next_cursor
