"""Every query of readiness."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

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
