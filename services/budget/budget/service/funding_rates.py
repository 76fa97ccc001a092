"""Funding rates per weighted patient, per financial year (domain §3, §5): read by any reader but a
practice system, set by an admin."""

from __future__ import annotations

from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.pagination import decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from arrs_kit.problems import PreconditionFailed
from budget.domain import money
from budget.domain.calendar import financial_year
from budget.models import FundingRate
from budget.repository import funding_rates as funding_rates_repo
from budget.schemas.budgets import FundingRatePublic, FundingRatePut
from budget.service import common


def funding_rate_etag(row: FundingRate) -> str:
    return make_etag("funding-rate", row.fy, row.version)


def funding_rate_public(row: FundingRate) -> FundingRatePublic:
    gp = row.arrs_gp_rate_tenth_pence
    return FundingRatePublic(
        fy=row.fy,
        arrs_per_weighted_patient=money.tenth_pence_to_rate(row.arrs_rate_tenth_pence),
        arrs_gp_per_weighted_patient=None if gp is None else money.tenth_pence_to_rate(gp),
        source=row.source,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def list_funding_rates(
    *, session: Session, cursor: str | None, limit: int
) -> tuple[list[FundingRatePublic], str | None]:
    """Every financial year's rates, by FY."""
    after = decode_cursor(cursor, str)
    rows = funding_rates_repo.list_funding_rates(session, after_fy=after[0] if after else None, limit=limit + 1)
    page, next_cursor = next_cursor_for(rows, limit, lambda r: [r.fy])
    return [funding_rate_public(r) for r in page], next_cursor


def put_funding_rate(
    *, session: Session, principal: Principal, fy: str, data: FundingRatePut, if_match: str | None
) -> tuple[FundingRatePublic, str, bool]:
    """Admin: set a financial year's rates. Answers the rates, their ETag and whether they were
    created. The same rates again change nothing; ``If-Match``, when sent, must name the current
    ones. Sums already allocated stay until ``allocate`` is called again, which posts the difference."""
    financial_year(fy)
    arrs = money.rate_to_tenth_pence(data.arrs_per_weighted_patient)
    gp = (
        None
        if data.arrs_gp_per_weighted_patient is None
        else money.rate_to_tenth_pence(data.arrs_gp_per_weighted_patient)
    )
    row = funding_rates_repo.get_funding_rate(session, fy, for_update=True)
    if if_match is not None and if_match.strip():
        if row is None:
            raise PreconditionFailed(f"There are no rates for {fy} yet; send no If-Match.")
        require_if_match(if_match, funding_rate_etag(row))
    created = row is None
    if row is None:
        row = FundingRate(
            fy=fy,
            arrs_rate_tenth_pence=arrs,
            arrs_gp_rate_tenth_pence=gp,
            source=f"Set through the API by {common.actor(principal)}",
            version=1,
            updated_at=common.now(),
            updated_by=common.actor(principal),
        )
        session.add(row)
        session.commit()
    elif (row.arrs_rate_tenth_pence, row.arrs_gp_rate_tenth_pence) == (arrs, gp):
        session.rollback()  # the same rates again: nothing to record
    else:
        row.arrs_rate_tenth_pence = arrs
        row.arrs_gp_rate_tenth_pence = gp
        row.source = f"Set through the API by {common.actor(principal)}"
        row.version += 1
        row.updated_at = common.now()
        row.updated_by = common.actor(principal)
        session.commit()
    return funding_rate_public(row), funding_rate_etag(row), created
