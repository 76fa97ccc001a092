"""Queries of the organisation register: ICBs, PCNs, memberships, weighted populations."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import one_of
from budget.domain.scope import ListScope
from budget.models import (
    Icb,
    Pcn,
    PracticeMembership,
    WeightedPopulation,
    WeightedPopulationHistory,
)


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


@dataclass(frozen=True, slots=True)
class ListedPcn:
    """A PCN as a list shows it: its columns as read, without an ORM object per row (a list of an
    ICB's PCNs is read on every dashboard poll)."""

    code: str
    name: str
    icb_code: str
    list_size: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


_LISTED = tuple(Pcn.__table__.c[f.name] for f in fields(ListedPcn))  # type: ignore[attr-defined]


def list_pcns(
    session: Session, *, scope: ListScope, icb_code: str | None, after_code: str | None, limit: int
) -> list[ListedPcn]:
    stmt = select(*_LISTED).order_by(col(Pcn.code))
    if not scope.everything:
        stmt = stmt.where(col(Pcn.icb_code).in_(scope.icb_codes) | col(Pcn.code).in_(scope.pcn_codes))
    if icb_code is not None:
        stmt = stmt.where(col(Pcn.icb_code) == icb_code)
    if after_code is not None:
        stmt = stmt.where(col(Pcn.code) > after_code)
    return [ListedPcn(*row) for row in session.execute(stmt.limit(limit))]


def member_codes_of_pcns(session: Session, pcn_codes: Collection[str]) -> dict[str, list[str]]:
    """The codes of the current members of these PCNs, by PCN, each list in code order."""
    members: dict[str, list[str]] = {}
    if not pcn_codes:
        return members
    stmt = (
        select(col(PracticeMembership.pcn_code), col(PracticeMembership.practice_code))
        .where(one_of(session, col(PracticeMembership.pcn_code), pcn_codes), col(PracticeMembership.valid_to).is_(None))
        .order_by(col(PracticeMembership.pcn_code), col(PracticeMembership.practice_code))
    )
    for row in session.execute(stmt):
        members.setdefault(row[0], []).append(row[1])
    return members


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


def list_size_for(session: Session, pcn: Pcn, fy: str) -> int:
    """The PCN's registered list size for a financial year, on which the year's role caps are judged:
    the one recorded with the year's weighted population, else the PCN's current list size."""
    row = get_weighted_population(session, pcn.code, fy)
    return row.list_size if row is not None and row.list_size is not None else pcn.list_size
