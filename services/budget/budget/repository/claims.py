"""Queries of claims and their history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.domain.claim_states import AWAITING_DECISION, COUNTED, ENDED, LIVE, ClaimKind, ClaimStatus
from budget.domain.scope import ListScope
from budget.domain.terms import Terms
from budget.models import Claim, ClaimEvent, Pcn, Post, PostTerms, YearClose
from budget.repository.listing import monthly_list

# The statements of a claim's every write are built once: each execution then skips building the
# statement and computing its cache key.

_LOCKED_WITH_ICB = (
    select(Claim, col(Pcn.icb_code))
    .join(Pcn, col(Pcn.code) == col(Claim.pcn_code))
    .where(col(Claim.id) == bindparam("claim_id"))
    .with_for_update(of=Claim)  # the claim's row only: its PCN's stays free for every other claim
    .execution_options(populate_existing=True)
)
_EVENT = ClaimEvent.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = insert(_EVENT)
_HISTORY = select(_EVENT).where(_EVENT.c.claim_id == bindparam("claim_id")).order_by(_EVENT.c.id)
_BASIS = (
    select(
        Post,
        col(PostTerms.effective_from),
        col(PostTerms.hours_per_week_centi),
        col(PostTerms.afc_band),
        col(PostTerms.geography),
        col(YearClose.closed_at),
    )
    .outerjoin(PostTerms, col(PostTerms.post_id) == col(Post.id))
    .outerjoin(YearClose, and_(col(YearClose.pcn_code) == col(Post.pcn_code), col(YearClose.fy) == bindparam("fy")))
    .where(col(Post.id) == bindparam("post_id"))
    .order_by(col(PostTerms.effective_from))
)


def get_claim(session: Session, claim_id: int, *, for_update: bool = False) -> Claim | None:
    """The claim; ``for_update`` locks its row for this transaction and reads it afresh."""
    stmt = select(Claim).where(col(Claim.id) == claim_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one_or_none()


def lock_with_icb(session: Session, claim_id: int) -> tuple[Claim, str] | None:
    """The claim, its row locked for this transaction and read afresh, and its PCN's ICB (one query)."""
    row = session.execute(_LOCKED_WITH_ICB, {"claim_id": claim_id}).one_or_none()
    return None if row is None else (row[0], row[1])


def insert_event(session: Session, values: dict[str, Any]) -> None:
    """Write one event of a claim's history (its columns in ``values``) with a plain INSERT: no ORM
    object, no id read back."""
    session.execute(_INSERT_EVENT, values)


def history_of(session: Session, claim_id: int) -> Sequence[Row[Any]]:
    """The claim's history, oldest first, as rows (read only: no ORM object per event)."""
    return session.execute(_HISTORY, {"claim_id": claim_id}).all()


@dataclass(frozen=True, slots=True)
class ClaimBasis:
    """What a claim's checks read besides the catalogue: the post, its dated terms (oldest first; none
    for a post without any) and when its PCN closed the claim's financial year (None while open)."""

    post: Post
    terms: list[Terms]
    closed_at: datetime | None


def basis_of(session: Session, post_id: int, fy: str) -> ClaimBasis | None:
    """The post, its terms and the close of ``fy`` for its PCN, in one query."""
    rows = session.execute(_BASIS, {"post_id": post_id, "fy": fy}).all()
    if not rows:
        return None
    terms = [Terms(row[1], row[2], row[3], row[4]) for row in rows if row[1] is not None]
    return ClaimBasis(post=rows[0][0], terms=terms, closed_at=rows[0][5])


def live_claim(session: Session, *, post_id: int | None, month: str, exclude: int | None) -> Claim | None:
    """The post's live claim for the month (not rejected or withdrawn), other than ``exclude``."""
    stmt = select(Claim).where(
        col(Claim.post_id) == post_id,
        col(Claim.month) == month,
        col(Claim.kind) == ClaimKind.CLAIM,
        col(Claim.status).not_in(ENDED),
    )
    if exclude is not None:
        stmt = stmt.where(col(Claim.id) != exclude)
    return session.scalars(stmt.limit(1)).first()


def counted_hours_by_post(
    session: Session, *, pcn_code: str, role_code: str, month: str, other_than_post: int | None, exclude: int | None
) -> list[tuple[int, int]]:
    """(post id, its largest hours in hundredths) of the other posts of a role whose claims for the
    month count against the role's cap (submitted, approved or paid)."""
    stmt = select(col(Claim.post_id), func.max(col(Claim.hours_per_week_centi))).where(
        col(Claim.pcn_code) == pcn_code,
        col(Claim.role_code) == role_code,
        col(Claim.month) == month,
        col(Claim.kind) == ClaimKind.CLAIM,
        col(Claim.status).in_(COUNTED),
        col(Claim.post_id) != other_than_post,
    )
    if exclude is not None:
        stmt = stmt.where(col(Claim.id) != exclude)
    return [(int(post_id), int(centi)) for post_id, centi in session.execute(stmt.group_by(col(Claim.post_id))).all()]


def counted_adjustments_pence(session: Session, claim_id: int | None) -> int:
    """What the adjustments of a claim that still count add to it (signed)."""
    stmt = select(func.coalesce(func.sum(col(Claim.amount_pence)), 0)).where(
        col(Claim.adjusts_claim_id) == claim_id,
        col(Claim.status).in_(COUNTED),
    )
    return int(session.execute(stmt).scalar_one())


def list_claims(
    session: Session,
    *,
    scope: ListScope,
    pcn_code: str | None,
    month: str | None,
    status: ClaimStatus | None,
    after_id: int | None,
    limit: int,
) -> Sequence[Claim]:
    return monthly_list(
        session,
        Claim,
        scope=scope,
        pcn_code=pcn_code,
        month=month,
        status=status,
        after_id=after_id,
        limit=limit,
    )


def events_of(session: Session, claim_ids: Sequence[int]) -> dict[int, list[ClaimEvent]]:
    """The history of each claim, oldest first."""
    if not claim_ids:
        return {}
    rows = session.scalars(
        select(ClaimEvent).where(col(ClaimEvent.claim_id).in_(claim_ids)).order_by(col(ClaimEvent.id))
    ).all()
    grouped: dict[int, list[ClaimEvent]] = {}
    for row in rows:
        grouped.setdefault(row.claim_id, []).append(row)
    return grouped


def live_claims_of_pcn(
    session: Session, pcn_code: str, *, fy: str | None = None, until_month: str | None = None
) -> Sequence[Claim]:
    """The PCN's live claims (kind ``claim``, not rejected or withdrawn), of one FY or up to a month,
    by post, oldest month first."""
    stmt = select(Claim).where(
        col(Claim.pcn_code) == pcn_code,
        col(Claim.kind) == ClaimKind.CLAIM,
        col(Claim.status).in_(LIVE),
    )
    if fy is not None:
        stmt = stmt.where(col(Claim.fy) == fy)
    if until_month is not None:
        stmt = stmt.where(col(Claim.month) <= until_month)
    return session.scalars(stmt.order_by(col(Claim.post_id), col(Claim.month), col(Claim.id))).all()


def awaiting_decision_ids(session: Session, pcn_code: str, fy: str, limit: int = 50) -> list[int]:
    """Ids of the PCN's claims of ``fy`` still submitted, or approved and unpaid (a year with any cannot
    close), oldest first, at most ``limit``."""
    stmt = (
        select(col(Claim.id))
        .where(col(Claim.pcn_code) == pcn_code, col(Claim.fy) == fy, col(Claim.status).in_(AWAITING_DECISION))
        .order_by(col(Claim.id))
        .limit(limit)
    )
    return [int(i) for i in session.scalars(stmt) if i is not None]


def claims_of_month(session: Session, pcn_code: str, month: str) -> Sequence[Claim]:
    """A PCN's claims (not adjustments) of a month, but those withdrawn: a return's lines, by id."""
    stmt = (
        select(Claim)
        .where(
            col(Claim.pcn_code) == pcn_code,
            col(Claim.month) == month,
            col(Claim.kind) == ClaimKind.CLAIM,
            col(Claim.status) != ClaimStatus.WITHDRAWN,
        )
        .order_by(col(Claim.id))
    )
    return session.scalars(stmt).all()


def lock_claims(session: Session, claim_ids: Sequence[int]) -> Sequence[Claim]:
    """Claims by id, locked, in id order (every writer of several claims locks them in this order)."""
    stmt = select(Claim).where(col(Claim.id).in_(claim_ids)).order_by(col(Claim.id)).with_for_update()
    return session.scalars(stmt).all()


def pending_adjustment_id(session: Session, claim_id: int | None) -> int | None:
    """The id of the claim's adjustment awaiting a decision, if any (there is at most one)."""
    stmt = select(col(Claim.id)).where(
        col(Claim.adjusts_claim_id) == claim_id, col(Claim.status).in_(AWAITING_DECISION)
    )
    return session.scalars(stmt).first()


def paid_claims_of(session: Session, pcn_code: str, fy: str, post_ids: Sequence[int]) -> Sequence[Claim]:
    """A PCN's paid claims (not adjustments) of a year for some posts, by id."""
    stmt = (
        select(Claim)
        .where(
            col(Claim.pcn_code) == pcn_code,
            col(Claim.fy) == fy,
            col(Claim.kind) == ClaimKind.CLAIM,
            col(Claim.status) == ClaimStatus.PAID,
            col(Claim.post_id).in_(post_ids) if post_ids else col(Claim.post_id).is_not(None),
        )
        .order_by(col(Claim.id))
    )
    return session.scalars(stmt).all()


def latest_counted_adjustment(session: Session, claim_id: int | None) -> Claim | None:
    """The claim's latest adjustment that counts (submitted, approved or paid): the terms and rates
    the claim now stands on."""
    stmt = (
        select(Claim)
        .where(col(Claim.adjusts_claim_id) == claim_id, col(Claim.status).in_(COUNTED))
        .order_by(col(Claim.id).desc())
        .limit(1)
    )
    return session.scalars(stmt).first()
