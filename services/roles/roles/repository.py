"""Every query of the roles service."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import one_of
from roles.models import (
    FundingShare,
    JobPlanTemplate,
    RatePeriod,
    Role,
    RoleCap,
    SupervisionRequirement,
    catalogue_version,
)


def get_role(session: Session, code: str, *, for_update: bool = False) -> Role | None:
    stmt = select(Role).where(Role.code == code)  # type: ignore[arg-type]
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_roles(session: Session, *, claimable_on: date | None, after_code: str | None, limit: int) -> Sequence[Role]:
    stmt = select(Role).order_by(Role.code)
    if claimable_on is not None:
        stmt = stmt.where(col(Role.added_on) <= claimable_on).where(
            col(Role.retired_on).is_(None) | (col(Role.retired_on) >= claimable_on)
        )
    if after_code is not None:
        stmt = stmt.where(col(Role.code) > after_code)
    return session.scalars(stmt.limit(limit)).all()


def all_roles(session: Session) -> Sequence[Role]:
    """Every role, by code (the catalogue holds a few dozen)."""
    return session.scalars(select(Role).order_by(Role.code)).all()


def role_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(Role.code, Role.name)).all()  # type: ignore[call-overload]
    return {code: name for code, name in rows}  # noqa: C416 - rows are Row objects


def list_periods(session: Session, role_code: str | None = None) -> Sequence[RatePeriod]:
    stmt = select(RatePeriod).order_by(RatePeriod.role_code, RatePeriod.effective_from, RatePeriod.id)  # type: ignore[arg-type]
    if role_code is not None:
        stmt = stmt.where(RatePeriod.role_code == role_code)  # type: ignore[arg-type]
    return session.scalars(stmt).all()


def periods_by_role(session: Session) -> dict[str, list[RatePeriod]]:
    """Every rate period, by role (each role's in :func:`list_periods` order)."""
    grouped: dict[str, list[RatePeriod]] = {}
    for period in list_periods(session):
        grouped.setdefault(period.role_code, []).append(period)
    return grouped


def periods_of(session: Session, role_codes: Collection[str]) -> dict[str, list[RatePeriod]]:
    """Every rate period of these roles, by role (each role's in :func:`list_periods` order)."""
    grouped: dict[str, list[RatePeriod]] = {code: [] for code in role_codes}
    if not role_codes:
        return grouped
    stmt = (
        select(RatePeriod)
        .where(one_of(session, RatePeriod.role_code, role_codes))
        .order_by(RatePeriod.role_code, RatePeriod.effective_from, RatePeriod.id)  # type: ignore[arg-type]
    )
    for period in session.scalars(stmt):
        grouped[period.role_code].append(period)
    return grouped


def list_shares(session: Session, role_code: str) -> Sequence[FundingShare]:
    stmt = select(FundingShare).where(FundingShare.role_code == role_code).order_by(FundingShare.effective_from)  # type: ignore[arg-type]
    return session.scalars(stmt).all()


def get_share(session: Session, role_code: str, effective_from: date) -> FundingShare | None:
    return session.get(FundingShare, (role_code, effective_from))


def list_caps(session: Session, role_code: str) -> Sequence[RoleCap]:
    stmt = select(RoleCap).where(RoleCap.role_code == role_code).order_by(RoleCap.fy)  # type: ignore[arg-type]
    return session.scalars(stmt).all()


def get_cap(session: Session, role_code: str, fy: str) -> RoleCap | None:
    return session.get(RoleCap, (role_code, fy))


def get_supervision(session: Session, role_code: str) -> SupervisionRequirement | None:
    return session.get(SupervisionRequirement, role_code)


def get_template(session: Session, role_code: str) -> JobPlanTemplate | None:
    return session.get(JobPlanTemplate, role_code)


# The in-memory snapshot's reads (roles.snapshot): Core rows, no ORM objects.

_PERIODS: Table = RatePeriod.__table__  # type: ignore[attr-defined]
_ROLES: Table = Role.__table__  # type: ignore[attr-defined]


def catalogue_stamp(conn: Connection) -> int:
    """The catalogue's version stamp (migration 0005: moved by triggers on every change)."""
    return int(conn.execute(select(catalogue_version.c.version)).scalar_one())


def role_name_rows(conn: Connection) -> dict[str, str]:
    return {str(code): str(name) for code, name in conn.execute(select(_ROLES.c.code, _ROLES.c.name))}


def period_rows(conn: Connection) -> Iterator[Any]:
    """Every rate period as (id, role_code, geography, afc_band, effective_from, annual_max_pence,
    provenance, supersedes_id), by role and id."""
    p = _PERIODS.c
    columns = (p.id, p.role_code, p.geography, p.afc_band, p.effective_from, p.annual_max_pence, p.provenance,
               p.supersedes_id)  # fmt: skip
    yield from conn.execute(select(*columns).order_by(p.role_code, p.id))
