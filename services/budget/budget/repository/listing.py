"""The one way a list of a PCN's monthly things (claims, returns) is filtered and paged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from budget.domain.scope import ListScope
from budget.models import Claim, ClaimReturn, Pcn

Row = TypeVar("Row", Claim, ClaimReturn)


def monthly_list(
    session: Session,
    model: type[Row],
    *,
    scope: ListScope,
    pcn_code: str | None,
    month: str | None,
    status: str | None,
    after_id: int | None,
    limit: int,
) -> Sequence[Row]:
    """Rows of ``model`` in id order, within ``scope`` (an ICB's PCNs, or the PCNs named), of one PCN,
    month or status when given, after ``after_id``, at most ``limit``."""
    stmt = select(model).order_by(col(model.id))
    if not scope.everything:
        pcns_of_icbs = select(col(Pcn.code)).where(col(Pcn.icb_code).in_(scope.icb_codes))
        stmt = stmt.where(col(model.pcn_code).in_(pcns_of_icbs) | col(model.pcn_code).in_(scope.pcn_codes))
    if pcn_code is not None:
        stmt = stmt.where(col(model.pcn_code) == pcn_code)
    if month is not None:
        stmt = stmt.where(col(model.month) == month)
    if status is not None:
        stmt = stmt.where(col(model.status) == status)
    if after_id is not None:
        stmt = stmt.where(col(model.id) > after_id)
    return session.scalars(stmt.limit(limit)).all()
