"""Queries of workforce plans, their lines and the plans they replaced."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.models import WorkforcePlan, WorkforcePlanHistory, WorkforcePlanLine


def get_plan(session: Session, pcn_code: str, fy: str, *, for_update: bool = False) -> WorkforcePlan | None:
    """The plan in force; ``for_update`` locks its row and reads it afresh."""
    if not for_update:
        return session.get(WorkforcePlan, (pcn_code, fy))
    stmt = (
        select(WorkforcePlan)
        .where(col(WorkforcePlan.pcn_code) == pcn_code, col(WorkforcePlan.fy) == fy)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def plan_lines(session: Session, pcn_code: str, fy: str) -> Sequence[WorkforcePlanLine]:
    stmt = select(WorkforcePlanLine).where(col(WorkforcePlanLine.pcn_code) == pcn_code, col(WorkforcePlanLine.fy) == fy)
    return session.scalars(stmt.order_by(col(WorkforcePlanLine.id))).all()


def delete_plan_lines(session: Session, pcn_code: str, fy: str) -> None:
    """A Core DELETE, run now: the ORM would insert a replacement's lines before deleting these."""
    session.execute(
        delete(WorkforcePlanLine).where(col(WorkforcePlanLine.pcn_code) == pcn_code, col(WorkforcePlanLine.fy) == fy)
    )


def plan_history(session: Session, pcn_code: str, fy: str) -> Sequence[WorkforcePlanHistory]:
    """The plans replaced, oldest first."""
    stmt = (
        select(WorkforcePlanHistory)
        .where(col(WorkforcePlanHistory.pcn_code) == pcn_code, col(WorkforcePlanHistory.fy) == fy)
        .order_by(col(WorkforcePlanHistory.id))
    )
    return session.scalars(stmt).all()
