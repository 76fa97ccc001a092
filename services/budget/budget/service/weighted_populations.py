"""Weighted populations per PCN and financial year: set, replaced, and the replaced values kept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.principal import Principal
from arrs_kit.problems import PreconditionFailed
from budget.domain import register
from budget.errors import InvalidReferenceDate
from budget.models import Pcn, WeightedPopulation, WeightedPopulationHistory
from budget.repository import register as register_repo
from budget.schemas.register import ReplacedWeightedPopulation, WeightedPopulationPublic, WeightedPopulationPut
from budget.service import common


def weighted_population_etag(row: WeightedPopulation) -> str:
    return make_etag("weighted-population", f"{row.pcn_code}-{row.fy}", row.version)


def weighted_population_public(
    row: WeightedPopulation, replaced: Iterable[WeightedPopulationHistory]
) -> WeightedPopulationPublic:
    return WeightedPopulationPublic(
        pcn_code=row.pcn_code,
        fy=row.fy,
        weighted_population=register.milli_to_population(row.weighted_population_milli),
        reference_date=row.reference_date,
        list_size=row.list_size,
        set_at=row.set_at,
        set_by=row.set_by,
        history=[
            ReplacedWeightedPopulation(
                weighted_population=register.milli_to_population(old.weighted_population_milli),
                reference_date=old.reference_date,
                list_size=old.list_size,
                set_at=old.set_at,
                set_by=old.set_by,
                replaced_at=old.replaced_at,
                replaced_by=old.replaced_by,
            )
            for old in replaced
        ],
    )


def put_weighted_population(
    *,
    session: Session,
    principal: Principal,
    pcn: Pcn,
    fy: str,
    reference_date: date,
    data: WeightedPopulationPut,
    if_match: str | None,
) -> tuple[WeightedPopulationPublic, str]:
    """Admin or the PCN's ICB: set a PCN's weighted population (and list size) for a financial year. A new value
    replaces the old one, which stays readable in ``history``; the same value again changes nothing.
    ``If-Match`` is optional: sent, it must name the value being replaced. ``pcn``: locked, managed
    by the principal; ``reference_date``: the FY's (:data:`budget.deps.ReferenceDate`)."""
    if data.reference_date != reference_date:
        raise InvalidReferenceDate(
            f"The weighted population for {fy} is the one at {reference_date}, not {data.reference_date}."
        )
    milli = register.population_to_milli(data.weighted_population)
    row = register_repo.get_weighted_population(session, pcn.code, fy)
    if if_match is not None and if_match.strip():  # an empty header is no precondition
        if row is None:
            raise PreconditionFailed(f"PCN {pcn.code} has no weighted population for {fy} yet; send no If-Match.")
        require_if_match(if_match, weighted_population_etag(row))
    if row is not None and (row.weighted_population_milli, row.list_size) == (milli, data.list_size):
        session.rollback()  # the same value again: nothing to record, nothing moves
    else:
        now = common.now()
        if row is None:
            row = WeightedPopulation(
                pcn_code=pcn.code,
                fy=fy,
                weighted_population_milli=milli,
                reference_date=reference_date,
                list_size=data.list_size,
                version=1,
                set_at=now,
                set_by=common.actor(principal),
            )
            session.add(row)
        else:
            session.add(
                WeightedPopulationHistory(
                    pcn_code=row.pcn_code,
                    fy=row.fy,
                    weighted_population_milli=row.weighted_population_milli,
                    reference_date=row.reference_date,
                    list_size=row.list_size,
                    set_at=row.set_at,
                    set_by=row.set_by,
                    replaced_at=now,
                    replaced_by=common.actor(principal),
                )
            )
            row.weighted_population_milli = milli
            row.list_size = data.list_size
            row.version += 1
            row.set_at = now
            row.set_by = common.actor(principal)
        # The PCN's representation includes its weighted populations, so its ETag moves too.
        pcn.version += 1
        session.commit()
    public = weighted_population_public(row, register_repo.weighted_population_history(session, pcn.code, fy))
    return public, weighted_population_etag(row)
