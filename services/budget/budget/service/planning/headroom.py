"""Headroom (domain §6): for a role and a start month, the WTE the PCN could still afford to the FY's
end at that role's rate in force on each month's 1st and its funding share, out of what the pot has
available less what the forecast projects the existing posts still to claim (``committed``). The
answer is rounded *down* to 0.01 WTE and checked by computing the claims it implies month by month,
so it never promises money that is not there."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from sqlalchemy.orm import Session

from budget.clients.roles import RoleCatalogue
from budget.domain import claims_math, hours
from budget.domain.calendar import financial_year, fy_of_month, month_text, months_from, parse_month
from budget.errors import RateNotPublished, RoleNotClaimable
from budget.models import Pcn
from budget.repository import ledger as ledger_repo
from budget.repository import register as register_repo
from budget.schemas.planning import HeadroomMonth, HeadroomPublic, RoleCapPublic
from budget.service.claims.compute import pot_for
from budget.service.planning import forecast


def cost_pence(terms: Sequence[tuple[int, int, int, str]], wte_centi: int) -> int:
    """What claims for ``wte_centi`` hundredths of a WTE in post every month of ``terms`` (year, month,
    annual maximum, funding share) would reimburse at the cap, each month computed and rounded by
    :func:`claims_math.compute_claim` as a claim is."""
    total = 0
    hours = Fraction(wte_centi, 100) * claims_math.FULL_TIME_HOURS
    for year, number, annual_max_pence, share in terms:
        first, _ = claims_math.month_bounds(year, number)
        result = claims_math.compute_claim(
            year=year,
            month=number,
            start_date=first,
            leave_date=None,
            hours_per_week=hours,
            annual_max_pence=annual_max_pence,
            funding_share=share,
            # Paid at least the cap (annual maximum × WTE ÷ 12), so the cap is what is reimbursed.
            salary_pence=annual_max_pence * (wte_centi // 100 + 1),
            employer_ni_pence=0,
            employer_pension_pence=0,
        )
        total += result.reimbursable_pence
    return total


def affordable_centi(headroom_pence: int, terms: Sequence[tuple[int, int, int, str]]) -> int:
    """The most hundredths of a WTE whose claims over ``terms`` fit in ``headroom_pence``."""
    per_wte = cost_pence(terms, 100)
    if headroom_pence <= 0 or per_wte <= 0:
        return 0
    centi = headroom_pence * 100 // per_wte  # the estimate; rounding per month may move it by a step
    while centi > 0 and cost_pence(terms, centi) > headroom_pence:
        centi -= 1
    while cost_pence(terms, centi + 1) <= headroom_pence:
        centi += 1
    return centi


def headroom(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    pcn: Pcn,
    role_code: str,
    from_month: str,
    geography: str,
    afc_band: str | None = None,
) -> HeadroomPublic:
    """The WTE of ``role_code`` a readable PCN could still afford from ``from_month`` to the FY's end."""
    fy = fy_of_month(from_month)
    _, end = financial_year(fy)  # 422 invalid-financial-year
    role = catalogue.role(role_code)
    if role is None:
        raise RoleNotClaimable(f"The role catalogue has no role {role_code}.", extra={"role_code": role_code})
    year, number = parse_month(from_month)
    months: list[HeadroomMonth] = []
    terms: list[tuple[int, int, int, str]] = []
    missing: list[str] = []
    estimated = False
    for y, n in months_from(year, number, end):
        first, _ = claims_math.month_bounds(y, n)
        month = month_text(y, n)
        rate = role.rate_in_force(geography, first, afc_band if role.banded else None)
        if not role.claimable_on(first):
            months.append(
                HeadroomMonth(
                    month=month,
                    claimable=False,
                    rate_effective_from=None,
                    annual_max_pence=None,
                    provenance=None,
                    funding_share=None,
                    cost_per_wte_pence=0,
                )
            )
            continue
        if rate is None:
            missing.append(month)
            continue
        # A new post has no override of its own: the catalogue's share in force on the 1st (1 without one).
        share_in_force = role.funding_share_on(first)
        share = share_in_force.share if share_in_force is not None else "1"
        estimated = estimated or rate.provenance == "estimated"
        terms.append((y, n, rate.annual_max_pence, share))
        months.append(
            HeadroomMonth(
                month=month,
                claimable=True,
                rate_effective_from=rate.effective_from,
                annual_max_pence=rate.annual_max_pence,
                provenance=rate.provenance,
                funding_share=share,
                cost_per_wte_pence=cost_pence(terms[-1:], 100),
            )
        )
    if missing:
        raise RateNotPublished(
            f"No rate period of {role.code} ({geography}) is in force on the 1st of {', '.join(missing)}.",
            extra={"role_code": role.code, "geography": geography, "months": missing},
        )
    if not terms:
        ended = f", retired after {role.retired_on}" if role.retired_on else ""
        raise RoleNotClaimable(
            f"{role.code} was claimable from {role.added_on}{ended}: in no month from {from_month} to the end of {fy}.",
            extra={"role_code": role.code},
        )
    pot = pot_for(session, role.code, fy)
    balance = ledger_repo.get_balance(session, pcn.code, fy, pot)
    available = balance.available_pence if balance is not None else 0
    projection = forecast.build(session, catalogue, pcn, fy)
    committed = sum(p.projected_pence for p in projection.pots if p.pot == pot)
    unprojected = [
        p.post_id for p in projection.posts if p.pot == pot and any(m.state == "unprojected" for m in p.months)
    ]
    room = available - committed
    centi = affordable_centi(room, terms)
    cap = role.cap_for(fy)
    return HeadroomPublic(
        pcn_code=pcn.code,
        fy=fy,
        role_code=role.code,
        geography=geography,
        from_month=from_month,
        pot=pot,
        available_pence=available,
        committed_pence=committed,
        headroom_pence=room,
        cost_per_wte_pence=sum(m.cost_per_wte_pence for m in months),
        affordable_wte=hours.centi_to_wte(centi),
        affordable_cost_pence=cost_pence(terms, centi) if centi else 0,
        estimated_rate=estimated,
        complete=not unprojected,
        unprojected_post_ids=unprojected,
        role_cap=RoleCapPublic(unit=cap.unit, limit=cap.limit_for(register_repo.list_size_for(session, pcn, fy)))
        if cap is not None
        else None,
        months=months,
    )
