"""Every query of the budget service: the organisation register, funding rates, balances and the
ledger."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from budget import ledger
from budget.models import (
    BudgetBalance,
    FundingRate,
    Icb,
    Pcn,
    Post,
    Posting,
    PracticeMembership,
    WeightedPopulation,
    WeightedPopulationHistory,
)
from budget.scope import ListScope


def get_icb(session: Session, code: str) -> Icb | None:
    return session.get(Icb, code)


def icb_names(session: Session, codes: Collection[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(select(col(Icb.code), col(Icb.name)).where(col(Icb.code).in_(codes))).all()
    return {code: name for code, name in rows}  # noqa: C416 - rows are Row objects


def list_icbs(session: Session, *, scope: ListScope, after_code: str | None, limit: int) -> Sequence[Icb]:
    stmt = select(Icb).order_by(col(Icb.code))
    if not scope.everything:
        icbs_of_pcns = select(col(Pcn.icb_code)).where(col(Pcn.code).in_(scope.pcn_codes))
        stmt = stmt.where(col(Icb.code).in_(scope.icb_codes) | col(Icb.code).in_(icbs_of_pcns))
    if after_code is not None:
        stmt = stmt.where(col(Icb.code) > after_code)
    return session.scalars(stmt.limit(limit)).all()


def get_pcn(session: Session, code: str, *, for_update: bool = False) -> Pcn | None:
    stmt = select(Pcn).where(col(Pcn.code) == code)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_pcns(
    session: Session, *, scope: ListScope, icb_code: str | None, after_code: str | None, limit: int
) -> Sequence[Pcn]:
    stmt = select(Pcn).order_by(col(Pcn.code))
    if not scope.everything:
        stmt = stmt.where(col(Pcn.icb_code).in_(scope.icb_codes) | col(Pcn.code).in_(scope.pcn_codes))
    if icb_code is not None:
        stmt = stmt.where(col(Pcn.icb_code) == icb_code)
    if after_code is not None:
        stmt = stmt.where(col(Pcn.code) > after_code)
    return session.scalars(stmt.limit(limit)).all()


def open_memberships_of_pcns(session: Session, pcn_codes: Collection[str]) -> Sequence[PracticeMembership]:
    """The current members of these PCNs, by PCN and practice code."""
    if not pcn_codes:
        return []
    stmt = (
        select(PracticeMembership)
        .where(col(PracticeMembership.pcn_code).in_(pcn_codes), col(PracticeMembership.valid_to).is_(None))
        .order_by(col(PracticeMembership.pcn_code), col(PracticeMembership.practice_code))
    )
    return session.scalars(stmt).all()


def open_memberships_of_practices(
    session: Session, practice_codes: Collection[str], *, for_update: bool = False
) -> Sequence[PracticeMembership]:
    """The open membership (at most one each) of these practices, in whichever PCN."""
    stmt = (
        select(PracticeMembership)
        .where(col(PracticeMembership.practice_code).in_(practice_codes), col(PracticeMembership.valid_to).is_(None))
        .order_by(col(PracticeMembership.practice_code))
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).all()


def memberships_of_pcn(session: Session, pcn_code: str) -> Sequence[PracticeMembership]:
    stmt = (
        select(PracticeMembership)
        .where(col(PracticeMembership.pcn_code) == pcn_code)
        .order_by(col(PracticeMembership.valid_from), col(PracticeMembership.practice_code), col(PracticeMembership.id))
    )
    return session.scalars(stmt).all()


def memberships_of_practices(session: Session, practice_codes: Collection[str]) -> Sequence[PracticeMembership]:
    """Every membership, open or closed, of these practices, oldest first."""
    stmt = (
        select(PracticeMembership)
        .where(col(PracticeMembership.practice_code).in_(practice_codes))
        .order_by(col(PracticeMembership.practice_code), col(PracticeMembership.valid_from), col(PracticeMembership.id))
    )
    return session.scalars(stmt).all()


def icb_codes_of_pcns(session: Session, pcn_codes: Collection[str]) -> dict[str, str]:
    if not pcn_codes:
        return {}
    rows = session.execute(select(col(Pcn.code), col(Pcn.icb_code)).where(col(Pcn.code).in_(pcn_codes))).all()
    return {code: icb for code, icb in rows}  # noqa: C416 - rows are Row objects


def get_weighted_population(session: Session, pcn_code: str, fy: str) -> WeightedPopulation | None:
    return session.get(WeightedPopulation, (pcn_code, fy))


def weighted_populations_of_pcn(session: Session, pcn_code: str) -> Sequence[WeightedPopulation]:
    stmt = (
        select(WeightedPopulation)
        .where(col(WeightedPopulation.pcn_code) == pcn_code)
        .order_by(col(WeightedPopulation.fy))
    )
    return session.scalars(stmt).all()


def weighted_population_history(
    session: Session, pcn_code: str, fy: str | None = None
) -> Sequence[WeightedPopulationHistory]:
    """Replaced values of a PCN (one FY, or all), oldest first."""
    stmt = select(WeightedPopulationHistory).where(col(WeightedPopulationHistory.pcn_code) == pcn_code)
    if fy is not None:
        stmt = stmt.where(col(WeightedPopulationHistory.fy) == fy)
    return session.scalars(stmt.order_by(col(WeightedPopulationHistory.fy), col(WeightedPopulationHistory.id))).all()


# Funding rates


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


# Balances and postings


def get_balance(session: Session, pcn_code: str, fy: str, pot: str) -> BudgetBalance | None:
    return session.get(BudgetBalance, (pcn_code, fy, pot))


def lock_balance(session: Session, pcn_code: str, fy: str, pot: str, *, now: datetime) -> BudgetBalance:
    """The pot's balance row, created at zero if absent, locked for this transaction: every writer
    to a pot goes through here first (``FOR UPDATE`` on PostgreSQL; on SQLite the writer session
    already holds the database's write lock). Callers lock several pots in ``POTS`` order."""
    stmt = (
        select(BudgetBalance)
        .where(
            col(BudgetBalance.pcn_code) == pcn_code,
            col(BudgetBalance.fy) == fy,
            col(BudgetBalance.pot) == pot,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalars(stmt).one_or_none()
    if row is not None:
        return row
    values = {"pcn_code": pcn_code, "fy": fy, "pot": pot, "updated_at": now}
    values |= dict.fromkeys(ledger.BALANCE_FIELDS, 0)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # A racing creator makes this wait for its commit, then do nothing: one row, whoever races.
    session.execute(insert(BudgetBalance).values(**values).on_conflict_do_nothing())
    return session.scalars(stmt).one()


def balances_of(session: Session, pcn_code: str, fy: str) -> Sequence[BudgetBalance]:
    stmt = (
        select(BudgetBalance)
        .where(col(BudgetBalance.pcn_code) == pcn_code, col(BudgetBalance.fy) == fy)
        .order_by(col(BudgetBalance.pot))
    )
    return session.scalars(stmt).all()


def balances_of_pcns(session: Session, pcn_codes: Collection[str], fy: str) -> Sequence[BudgetBalance]:
    if not pcn_codes:
        return []
    stmt = (
        select(BudgetBalance)
        .where(col(BudgetBalance.pcn_code).in_(list(pcn_codes)), col(BudgetBalance.fy) == fy)
        .order_by(col(BudgetBalance.pcn_code), col(BudgetBalance.pot))
    )
    return session.scalars(stmt).all()


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


# Posts


def get_post(session: Session, post_id: int, *, for_update: bool = False) -> Post | None:
    stmt = select(Post).where(col(Post.id) == post_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_posts(
    session: Session,
    *,
    scope: ListScope,
    pcn_code: str | None,
    after_id: int | None,
    limit: int,
    icb_code: str | None = None,
    role_code: str | None = None,
) -> Sequence[Post]:
    stmt = select(Post).order_by(col(Post.id))
    if not scope.everything:
        pcns_of_icbs = select(col(Pcn.code)).where(col(Pcn.icb_code).in_(scope.icb_codes))
        stmt = stmt.where(col(Post.pcn_code).in_(pcns_of_icbs) | col(Post.pcn_code).in_(scope.pcn_codes))
    if pcn_code is not None:
        stmt = stmt.where(col(Post.pcn_code) == pcn_code)
    if icb_code is not None:
        stmt = stmt.where(col(Post.pcn_code).in_(select(col(Pcn.code)).where(col(Pcn.icb_code) == icb_code)))
    if role_code is not None:
        stmt = stmt.where(col(Post.role_code) == role_code)
    if after_id is not None:
        stmt = stmt.where(col(Post.id) > after_id)
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
