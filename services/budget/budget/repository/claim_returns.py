"""Queries of monthly claim returns."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.domain.scope import ListScope
from budget.models import ClaimReturn, Pcn


def get_return(session: Session, return_id: int, *, for_update: bool = False) -> ClaimReturn | None:
    stmt = select(ClaimReturn).where(col(ClaimReturn.id) == return_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def return_of(session: Session, pcn_code: str, month: str) -> ClaimReturn | None:
    stmt = select(ClaimReturn).where(col(ClaimReturn.pcn_code) == pcn_code, col(ClaimReturn.month) == month)
    return session.scalars(stmt).one_or_none()


def list_returns(
    session: Session,
    *,
    scope: ListScope,
    pcn_code: str | None,
    month: str | None,
    status: str | None,
    after_id: int | None,
    limit: int,
) -> Sequence[ClaimReturn]:
    stmt = select(ClaimReturn).order_by(col(ClaimReturn.id))
    if not scope.everything:
        pcns_of_icbs = select(col(Pcn.code)).where(col(Pcn.icb_code).in_(scope.icb_codes))
        stmt = stmt.where(col(ClaimReturn.pcn_code).in_(pcns_of_icbs) | col(ClaimReturn.pcn_code).in_(scope.pcn_codes))
    if pcn_code is not None:
        stmt = stmt.where(col(ClaimReturn.pcn_code) == pcn_code)
    if month is not None:
        stmt = stmt.where(col(ClaimReturn.month) == month)
    if status is not None:
        stmt = stmt.where(col(ClaimReturn.status) == status)
    if after_id is not None:
        stmt = stmt.where(col(ClaimReturn.id) > after_id)
    return session.scalars(stmt.limit(limit)).all()
