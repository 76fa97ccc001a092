"""Queries of posts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVarTuple, cast

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.domain.claim_states import LIVE, ClaimKind
from budget.domain.scope import ListScope
from budget.models import (
    Claim,
    Pcn,
    Post,
    PostTerms,
)


def get_post(session: Session, post_id: int, *, for_update: bool = False) -> Post | None:
    stmt = select(Post).where(col(Post.id) == post_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


@dataclass(frozen=True, slots=True)
class PostListing:
    """Which posts a list asks for, in id order: those in ``scope`` (and of one PCN, one ICB's PCNs, one
    role), after ``after_id``, a page of ``page_size`` and one more (to tell whether another follows)."""

    scope: ListScope
    page_size: int
    pcn_code: str | None = None
    icb_code: str | None = None
    role_code: str | None = None
    after_id: int | None = None


Columns = TypeVarTuple("Columns")


def _listed(stmt: Select[*Columns], listing: PostListing) -> Select[*Columns]:
    stmt = stmt.order_by(col(Post.id))
    if not listing.scope.everything:
        pcns_of_icbs = select(col(Pcn.code)).where(col(Pcn.icb_code).in_(listing.scope.icb_codes))
        stmt = stmt.where(col(Post.pcn_code).in_(pcns_of_icbs) | col(Post.pcn_code).in_(listing.scope.pcn_codes))
    if listing.pcn_code is not None:
        stmt = stmt.where(col(Post.pcn_code) == listing.pcn_code)
    if listing.icb_code is not None:
        of_icb = select(col(Pcn.code)).where(col(Pcn.icb_code) == listing.icb_code)
        stmt = stmt.where(col(Post.pcn_code).in_(of_icb))
    if listing.role_code is not None:
        stmt = stmt.where(col(Post.role_code) == listing.role_code)
    if listing.after_id is not None:
        stmt = stmt.where(col(Post.id) > listing.after_id)
    return stmt.limit(listing.page_size + 1)


def list_posts(session: Session, listing: PostListing) -> Sequence[Post]:
    return session.scalars(_listed(select(Post), listing)).all()


def list_post_versions(session: Session, listing: PostListing) -> list[tuple[int, int]]:
    """The id and version of each post :func:`list_posts` would answer, and nothing else."""
    stmt = _listed(select(col(Post.id), col(Post.version)), listing)
    return [(cast(int, post_id), version) for post_id, version in session.execute(stmt)]


def posts_in_fy(session: Session, pcn_code: str, fy: str, start: date, end: date) -> Sequence[Post]:
    """The PCN's posts in post on a day of the FY (``start`` to ``end``), and any post with a live
    claim in it, by id."""
    claimed = select(col(Claim.post_id)).where(
        col(Claim.pcn_code) == pcn_code,
        col(Claim.fy) == fy,
        col(Claim.kind) == ClaimKind.CLAIM,
        col(Claim.status).in_(LIVE),
    )
    stmt = (
        select(Post)
        .where(col(Post.pcn_code) == pcn_code, or_(_in_post(start, end), col(Post.id).in_(claimed)))
        .order_by(col(Post.id))
    )
    return session.scalars(stmt).all()


def non_baseline_posts_in(session: Session, pcn_code: str, start: date, end: date) -> Sequence[Post]:
    """The PCN's posts not in the baseline and in post on a day from ``start`` to ``end``."""
    stmt = select(Post).where(col(Post.pcn_code) == pcn_code, col(Post.baseline).is_(False), _in_post(start, end))
    return session.scalars(stmt).all()


def _in_post(start: date, end: date) -> ColumnElement[bool]:
    return (col(Post.start_date) <= end) & (col(Post.leave_date).is_(None) | (col(Post.leave_date) >= start))


def first_post_of_roles(session: Session, pcn_code: str, role_codes: Sequence[str]) -> int | None:
    """The id of a PCN's first claimable (non-baseline) post of any of ``role_codes``: the earliest
    start, the lowest id on the same day."""
    stmt = (
        select(col(Post.id))
        .where(col(Post.pcn_code) == pcn_code, col(Post.role_code).in_(role_codes), col(Post.baseline).is_(False))
        .order_by(col(Post.start_date), col(Post.id))
        .limit(1)
    )
    return session.scalars(stmt).first()


def terms_of(session: Session, post_id: int | None) -> Sequence[PostTerms]:
    """A post's sets of terms, oldest first."""
    stmt = select(PostTerms).where(col(PostTerms.post_id) == post_id).order_by(col(PostTerms.effective_from))
    return session.scalars(stmt).all()


def terms_of_posts(session: Session, post_ids: Sequence[int]) -> dict[int, list[PostTerms]]:
    """The sets of terms of several posts, by post, each oldest first (one query)."""
    grouped: dict[int, list[PostTerms]] = {}
    if not post_ids:
        return grouped
    stmt = (
        select(PostTerms)
        .where(col(PostTerms.post_id).in_(post_ids))
        .order_by(col(PostTerms.post_id), col(PostTerms.effective_from))
    )
    for row in session.scalars(stmt):
        grouped.setdefault(row.post_id, []).append(row)
    return grouped


def posts_by_id(session: Session, post_ids: Sequence[int]) -> Sequence[Post]:
    if not post_ids:
        return []
    return session.scalars(select(Post).where(col(Post.id).in_(set(post_ids)))).all()
