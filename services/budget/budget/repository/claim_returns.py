"""Queries of monthly claim returns."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.models import ClaimReturn


def get_return(session: Session, return_id: int, *, for_update: bool = False) -> ClaimReturn | None:
    stmt = select(ClaimReturn).where(col(ClaimReturn.id) == return_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def return_of(session: Session, pcn_code: str, month: str) -> ClaimReturn | None:
    stmt = select(ClaimReturn).where(col(ClaimReturn.pcn_code) == pcn_code, col(ClaimReturn.month) == month)
    return session.scalars(stmt).one_or_none()
