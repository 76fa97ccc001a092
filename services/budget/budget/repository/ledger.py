"""Queries of the pots' balances and the ledger's postings, and the ledger's verification.

Every writer to a pot takes its balance row through :func:`lock_balance` first."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, case, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import one_of
from budget.domain import ledger
from budget.models import (
    BudgetBalance,
    Posting,
    YearClose,
)


def get_balance(session: Session, pcn_code: str, fy: str, pot: str) -> BudgetBalance | None:
    return session.get(BudgetBalance, (pcn_code, fy, pot))


# Built once (every writer to a pot runs it): an execution skips building it and its cache key.
_LOCKED_BALANCE = (
    select(BudgetBalance)
    .where(
        col(BudgetBalance.pcn_code) == bindparam("pcn_code"),
        col(BudgetBalance.fy) == bindparam("fy"),
        col(BudgetBalance.pot) == bindparam("pot"),
    )
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_balance(session: Session, pcn_code: str, fy: str, pot: str, *, now: datetime) -> BudgetBalance:
    """The pot's balance row, created at zero if absent, locked for this transaction: every writer
    to a pot goes through here first (``FOR UPDATE`` on PostgreSQL; on SQLite the writer session
    already holds the database's write lock). Callers lock several pots in ``POTS`` order."""
    key = {"pcn_code": pcn_code, "fy": fy, "pot": pot}
    row = session.scalars(_LOCKED_BALANCE, key).one_or_none()
    if row is not None:
        return row
    values = {"pcn_code": pcn_code, "fy": fy, "pot": pot, "updated_at": now}
    values |= dict.fromkeys(ledger.BALANCE_FIELDS, 0)
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # A racing creator makes this wait for its commit, then do nothing: one row, whoever races.
    session.execute(upsert(BudgetBalance).values(**values).on_conflict_do_nothing())
    return session.scalars(_LOCKED_BALANCE, key).one()


_INSERT_POSTING = insert(Posting.__table__)  # type: ignore[attr-defined]


def insert_posting(session: Session, values: dict[str, Any]) -> None:
    """Write one posting (its columns in ``values``) with a plain INSERT: no ORM object, no id read back."""
    session.execute(_INSERT_POSTING, values)


def balances_of(session: Session, pcn_code: str, fy: str) -> Sequence[BudgetBalance]:
    stmt = (
        select(BudgetBalance)
        .where(col(BudgetBalance.pcn_code) == pcn_code, col(BudgetBalance.fy) == fy)
        .order_by(col(BudgetBalance.pot))
    )
    return session.scalars(stmt).all()


def balances_of_pcns(session: Session, pcn_codes: Collection[str], fy: str) -> Sequence[Row[Any]]:
    """The balances of these PCNs' pots in ``fy``, by PCN and pot: rows of ``pcn_code``, ``pot`` and the
    :data:`ledger.BALANCE_FIELDS` in that order (read only: no ORM object per pot, no timestamp to convert)."""
    if not pcn_codes:
        return []
    table = BudgetBalance.__table__  # type: ignore[attr-defined]
    stmt = (
        select(table.c.pcn_code, table.c.pot, *(table.c[f] for f in ledger.BALANCE_FIELDS))
        .where(one_of(session, table.c.pcn_code, pcn_codes), table.c.fy == fy)
        .order_by(table.c.pcn_code, table.c.pot)
    )
    return session.execute(stmt).all()


def net_posted(session: Session, pcn_code: str, fy: str, pot: str, *, kind: str, account: str) -> int:
    """What postings of ``kind`` have moved into ``account`` of the pot, net of what they moved out."""
    signed = case((col(Posting.credit_account) == account, col(Posting.amount_pence)), else_=-col(Posting.amount_pence))
    stmt = select(func.coalesce(func.sum(signed), 0)).where(
        col(Posting.pcn_code) == pcn_code,
        col(Posting.fy) == fy,
        col(Posting.pot) == pot,
        col(Posting.kind) == kind,
        (col(Posting.credit_account) == account) | (col(Posting.debit_account) == account),
    )
    return int(session.execute(stmt).scalar_one())


def list_postings(
    session: Session, *, pcn_code: str, fy: str | None, after_id: int | None, limit: int
) -> Sequence[Posting]:
    stmt = select(Posting).where(col(Posting.pcn_code) == pcn_code).order_by(col(Posting.id))
    if fy is not None:
        stmt = stmt.where(col(Posting.fy) == fy)
    if after_id is not None:
        stmt = stmt.where(col(Posting.id) > after_id)
    return session.scalars(stmt.limit(limit)).all()


def verify_ledger(session: Session) -> list[str]:
    """Recompute every pot's balances from the postings and compare them with the maintained rows.

    Answers one line per disagreement (an empty list: the ledger and the balances agree), and flags
    maintained balances that break the pot's invariants."""
    totals = session.execute(
        select(
            col(Posting.pcn_code),
            col(Posting.fy),
            col(Posting.pot),
            col(Posting.debit_account),
            col(Posting.credit_account),
            func.sum(col(Posting.amount_pence)),
        ).group_by(
            col(Posting.pcn_code),
            col(Posting.fy),
            col(Posting.pot),
            col(Posting.debit_account),
            col(Posting.credit_account),
        )
    ).all()
    moved: dict[tuple[str, str, str], list[tuple[str, str, int]]] = {}
    for pcn_code, fy, pot, debit, credit, amount in totals:
        moved.setdefault((pcn_code, fy, pot), []).append((debit, credit, int(amount)))
    kept = {(b.pcn_code, b.fy, b.pot): b for b in session.scalars(select(BudgetBalance)).all()}
    problems = []
    for key in sorted(set(moved) | set(kept)):
        expected = ledger.replay(moved.get(key, []))
        row = kept.get(key)
        actual = ledger.Balances(**{f: getattr(row, f) for f in ledger.BALANCE_FIELDS}) if row else ledger.Balances()
        if actual != expected:
            problems.append(f"{'/'.join(key)}: maintained {actual}, from postings {expected}")
        if not actual.is_valid():
            problems.append(f"{'/'.join(key)}: maintained balances break the invariants: {actual}")
    return problems


def get_year_close(session: Session, pcn_code: str, fy: str) -> YearClose | None:
    """The record of the PCN's close of ``fy``, or None while the year is open."""
    return session.get(YearClose, (pcn_code, fy))
