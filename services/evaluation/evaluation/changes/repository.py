"""Every query of the change counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import one_of
from evaluation.changes.models import DataChange, PcnChange

WORKLOAD = "workload"
"""The subject of every upload of workload records or list sizes."""


def _increment(conn: Session | Connection, table: Any, key: str, value: str) -> None:
    """Add one to the ``changes`` of the row ``key = value`` (made at 1 if absent), in the transaction."""
    dialect = conn.get_bind().dialect if isinstance(conn, Session) else conn.dialect
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values({key: value, "changes": 1})
    conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_={"changes": table.c.changes + 1}))


def count(session: Session, pcn_code: str) -> None:
    """Count one change of ``pcn_code`` in the session's transaction. Call it last, just before the
    commit: the counter's row stays locked until then, and taken last it is waited for by writers of
    the same PCN only, never in a cycle."""
    _increment(session, PcnChange.__table__, "pcn_code", pcn_code)  # type: ignore[attr-defined]


def counters(session: Session, pcn_codes: Sequence[str]) -> dict[str, int]:
    """The counter of each of ``pcn_codes`` that has changed at least once (one query)."""
    if not pcn_codes:
        return {}
    stmt = select(col(PcnChange.pcn_code), col(PcnChange.changes)).where(
        one_of(session, col(PcnChange.pcn_code), pcn_codes)
    )
    return {str(row[0]): int(row[1]) for row in session.execute(stmt)}


def count_data(conn: Session | Connection, subject: str) -> None:
    """Count one change of ``subject`` in the transaction of ``conn``; like :func:`count`, call it last,
    just before the commit (concurrent uploads then wait for each other's commit only there)."""
    _increment(conn, DataChange.__table__, "subject", subject)  # type: ignore[attr-defined]


def data_counter(session: Session, subject: str) -> int:
    """The counter of ``subject``: 0 while it has never changed."""
    found = session.execute(select(col(DataChange.changes)).where(col(DataChange.subject) == subject)).scalar()
    return int(found or 0)
