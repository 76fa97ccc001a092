"""What the catalogue lacks: every role, geography and claim month of a financial year with no rate in
force, so that an administrator knows which rate periods to load (domain §4)."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from arrs_kit.pagination import decode_cursor, next_cursor_for
from roles import repository as repo
from roles import rules
from roles.calendar import financial_year, months_between
from roles.schemas import RateGap


def rate_gaps(
    *,
    session: Session,
    fy: str,
    geography: str | None,
    role_code: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[RateGap], str | None]:
    """Every month of ``fy`` in which a role is claimable but has no rate in force on the 1st, for each
    geography it is paid in (the ARRS GP: national and London; every other role: national, outer and
    inner London) and, for a banded role, each band it has periods for; by role, geography, band and
    month. A month before a role was added or after it was
    retired is no gap."""
    first, last = financial_year(fy)
    months = months_between(first, last)
    periods = repo.periods_by_role(session)
    wanted = rules.normalise_code(role_code) if role_code else None
    rows: list[RateGap] = []
    for role in repo.all_roles(session):
        if wanted is not None and role.code != wanted:
            continue
        own = periods.get(role.code, [])
        for geo, band in itertools.product(rules.geographies_of(role.code), rules.bands_of(own)):
            if geography is not None and geo != geography:
                continue
            rows.extend(
                RateGap(role_code=role.code, role_name=role.name, geography=geo, afc_band=band, month=f"{month:%Y-%m}")
                for month in months
                if rules.claimable_in(role.added_on, role.retired_on, month)
                and rules.rate_in_force(own, geo, month, band) is None
            )
    rows.sort(key=_position)
    after = decode_cursor(cursor, str, str)
    if after is not None:
        rows = [r for r in rows if _position(r) > after]
    page, next_cursor = next_cursor_for(rows, limit, _position)
    return list(page), next_cursor


def _position(gap: RateGap) -> tuple[str, str]:
    """A gap's place in the list, as its cursor holds it: the role, then geography, band and month in
    one (no geography is a prefix of another, so this orders as role, geography, band, month)."""
    return gap.role_code, f"{gap.geography}/{gap.afc_band or ''}/{gap.month}"
