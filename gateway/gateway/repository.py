"""Every query of the gateway's own tables: API clients and the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from gateway.models import ApiClient, AuditEvent


def client_by_id(session: Session, client_id: str) -> ApiClient | None:
    return session.scalars(select(ApiClient).where(col(ApiClient.id) == client_id)).one_or_none()


def client_by_key_id(session: Session, key_id: str) -> ApiClient | None:
    return session.scalars(select(ApiClient).where(col(ApiClient.key_id) == key_id)).one_or_none()


def client_for_update(session: Session, client_id: str) -> ApiClient | None:
    """The client, its row locked until the transaction ends."""
    stmt = select(ApiClient).where(col(ApiClient.id) == client_id).with_for_update()
    return session.scalars(stmt).one_or_none()


def clients_after(session: Session, *, after_id: str | None, limit: int) -> Sequence[ApiClient]:
    """Up to ``limit`` clients by id (oldest first: ids sort by age), after ``after_id``."""
    stmt = select(ApiClient).order_by(col(ApiClient.id)).limit(limit)
    if after_id is not None:
        stmt = stmt.where(col(ApiClient.id) > after_id)
    return session.scalars(stmt).all()


def add(session: Session, row: ApiClient) -> None:
    session.add(row)


_AUDIT = cast(Table, AuditEvent.__table__)  # type: ignore[attr-defined]


def add_audit_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert audit events (one statement; SQLAlchemy batches the rows into multi-row VALUES)."""
    session.execute(insert(_AUDIT), list(rows))


def audit_events_before(
    session: Session, *, client_id: str | None, since: datetime | None, before_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """Up to ``limit`` audit events, newest first: of one client, on or after ``since``, before an id."""
    stmt = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if client_id is not None:
        stmt = stmt.where(col(AuditEvent.client_id) == client_id)
    if since is not None:
        stmt = stmt.where(col(AuditEvent.at) >= since)
    if before_id is not None:
        stmt = stmt.where(col(AuditEvent.id) < before_id)
    return session.scalars(stmt).all()
