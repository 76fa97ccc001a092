"""The rates in force on a day, as ``GET /v1/rates`` lists them: computed from the catalogue's names and
periods, whether ORM rows or the in-memory snapshot's frozen ones (:mod:`roles.snapshot`)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol

from arrs_kit.pagination import decode_cursor, next_cursor_for
from arrs_kit.problems import Unprocessable
from roles import rules
from roles.calendar import today_in_england
from roles.schemas import RateInForce


def rate_day(*, on: date | None, month: str | None) -> date:
    """The day whose rates are asked for: ``on``, the 1st of ``month``, or today in England."""
    if on is not None and month is not None:
        raise Unprocessable("Give either on (a day) or month (a claim month), not both.")
    if month is not None:
        year, number = (int(part) for part in month.split("-"))
        return rules.claim_month_day(year, number)
    return on or today_in_england()


class PeriodRow(rules.PeriodLike, Protocol):
    """A rate period with its amount: an ORM row or a snapshot's frozen one."""

    @property
    def annual_max_pence(self) -> int: ...
    @property
    def provenance(self) -> str: ...


def rates_in_force(
    *,
    names: Mapping[str, str],
    by_role: Mapping[str, Sequence[PeriodRow]],
    on: date,
    geography: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[RateInForce], str | None]:
    """The rate in force on ``on`` for every role (and geography) that has one, from the catalogue's
    names and periods (the in-memory snapshot, :mod:`roles.snapshot`)."""
    geographies = [geography] if geography else list(rules.GEOGRAPHIES)
    rows: list[RateInForce] = []
    for role_code in sorted(by_role):
        for geo, band in itertools.product(geographies, rules.bands_of(by_role[role_code])):
            in_force = rules.rate_in_force(by_role[role_code], geo, on, band)
            if in_force is None or in_force.id is None:
                continue
            rows.append(
                RateInForce(
                    role_code=role_code,
                    role_name=names[role_code],
                    geography=geo,
                    afc_band=band,
                    effective_from=in_force.effective_from,
                    annual_max_pence=in_force.annual_max_pence,
                    provenance=in_force.provenance,
                    rate_period_id=in_force.id,
                )
            )
    rows.sort(key=_rate_position)
    after = decode_cursor(cursor, str, str)
    if after is not None:
        rows = [r for r in rows if _rate_position(r) > after]
    return list(next_cursor_for(rows, limit, _rate_position))  # type: ignore[return-value]


def _rate_position(rate: RateInForce) -> tuple[str, str]:
    """A rate's place in the list, as its cursor holds it: role, then geography and band in one."""
    return rate.role_code, f"{rate.geography}/{rate.afc_band or ''}"
