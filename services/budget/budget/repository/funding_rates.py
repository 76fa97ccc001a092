"""Queries of the funding rates per financial year."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.models import (
    FundingRate,
)


def get_funding_rate(session: Session, fy: str, *, for_update: bool = False) -> FundingRate | None:
    stmt = select(FundingRate).where(col(FundingRate.fy) == fy)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_funding_rates(session: Session, *, after_fy: str | None, limit: int) -> Sequence[FundingRate]:
    stmt = select(FundingRate).order_by(col(FundingRate.fy))
    if after_fy is not None:
        stmt = stmt.where(col(FundingRate.fy) > after_fy)
    return session.scalars(stmt.limit(limit)).all()
