"""Every query of readiness."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import one_of
from evaluation.readiness.models import ReadinessVersion


def current(session: Session, pcn_code: str) -> ReadinessVersion | None:
    stmt = (
        select(ReadinessVersion)
        .where(col(ReadinessVersion.pcn_code) == pcn_code)
        .order_by(col(ReadinessVersion.version).desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def versions(session: Session, pcn_code: str, *, before: int | None, limit: int) -> Sequence[ReadinessVersion]:
    stmt = select(ReadinessVersion).where(col(ReadinessVersion.pcn_code) == pcn_code)
    if before is not None:
        stmt = stmt.where(col(ReadinessVersion.version) < before)
    return session.scalars(stmt.order_by(col(ReadinessVersion.version).desc()).limit(limit)).all()


def add(session: Session, row: ReadinessVersion) -> None:
    session.add(row)
    session.flush()


def current_of(session: Session, pcn_codes: Sequence[str]) -> dict[str, ReadinessVersion]:
    """The current version of each of ``pcn_codes`` that has one (one query)."""
    if not pcn_codes:
        return {}
    latest = (
        select(col(ReadinessVersion.pcn_code), func.max(ReadinessVersion.version).label("version"))
        .where(one_of(session, col(ReadinessVersion.pcn_code), pcn_codes))
        .group_by(col(ReadinessVersion.pcn_code))
        .subquery()
    )
    stmt = select(ReadinessVersion).join(
        latest,
        (col(ReadinessVersion.pcn_code) == latest.c.pcn_code) & (col(ReadinessVersion.version) == latest.c.version),
    )
    return {row.pcn_code: row for row in session.scalars(stmt)}
