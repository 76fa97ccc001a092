"""The forecast of a PCN's financial year (domain §6), per pot and per post, to the penny.

A month of a post is *claimed* when the post has a live claim for it (kind ``claim``, status not
rejected or withdrawn), and then:

- a submitted, approved or paid claim is already in the pot's ``held``, ``approved`` or ``paid``, so
  the month projects nothing more (state ``claimed``);
- a draft holds nothing yet, so the month is projected at the draft's ``reimbursable_pence`` (state
  ``draft``, flagged ``draft``).

Every other month of the FY is projected as a claim for it would be computed: by
:func:`budget.service.claims.compute.assess` itself (the rate in force on the month's 1st, the post's
WTE, its days in post that month, the funding share as a claim takes it, rounded half up once), with
the post's last claimed ``actual_pence`` as the amounts paid, or, when the post has no claim yet, its
cap. "Last claimed" is the post's latest live claim (drafts included) for a *whole* month up to the
end of the FY: a part month (a start or a leave in it) says little about a whole month's pay, so a
post with only part-month claims is projected at its cap, which errs towards spending (and so never
overstates the headroom). Months the checks of a claim rule out (``post-not-active``,
``post-in-baseline``, ``role-not-claimable``) project 0 with that reason; a month with no rate in
force (``rate-not-published``) cannot be projected: it counts 0, says so, and the pot's
``unprojected_months`` counts it, rather than failing the whole forecast. A roles service that cannot
be read fails it (503 ``roles-unavailable``): nothing is projected on a guessed rate.

Per pot: projected outturn = paid + approved + held + projected; projected lapse = allocated −
outturn (negative: an overspend risk).

Everything is read in four queries per PCN whatever its posts (:func:`read_inputs`: the posts, their
live claims, the year's funding rate, the pots' balances) plus the role catalogue (cached); the
months are then computed without I/O (:func:`project`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

from sqlalchemy.orm import Session

from budget.clients.roles import Role, RoleCatalogue
from budget.domain import claims_math, hours
from budget.domain.calendar import financial_year, month_text, months_from, today_in_england
from budget.domain.claim_states import COUNTED, ClaimStatus
from budget.models import POTS, BudgetBalance, Claim, FundingRate, Pcn, Post, PostTerms
from budget.repository import claims as claims_repo
from budget.repository import funding_rates as funding_rates_repo
from budget.repository import ledger as ledger_repo
from budget.repository import posts as posts_repo
from budget.repository import register as register_repo
from budget.schemas.planning import (
    ForecastBasis,
    ForecastMonth,
    ForecastPost,
    ForecastPot,
    ForecastPublic,
    ForecastRow,
)
from budget.service.claims.compute import CapInUse, PaidAmounts, assess, pot_of
from budget.service.claims.segments import rate_for

NOT_CLAIMABLE = ("post-in-baseline", "post-not-active", "role-not-claimable")
"""Checks that rule a month out whatever the amounts (in the order a reason is reported)."""

CANNOT_PROJECT = ("rate-not-published",)
WARNINGS = ("role-cap-exceeded",)


def forecast(*, session: Session, catalogue: RoleCatalogue, pcn: Pcn, fy: str) -> ForecastPublic:
    """A readable PCN's forecast for a financial year."""
    financial_year(fy)  # 422 invalid-financial-year
    return build(session, catalogue, pcn, fy)


def forecast_rows(public: ForecastPublic) -> list[ForecastRow]:
    """The forecast as one flat row per post and month (for CSV)."""
    return [
        ForecastRow(
            pcn_code=public.pcn_code,
            fy=public.fy,
            post_id=post.post_id,
            role_code=post.role_code,
            display_name=post.display_name,
            pot=post.pot,
            basis_source=post.basis.source,
            **month.model_dump(),
        )
        for post in public.posts
        for month in post.months
    ]


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything a PCN's forecast for a year is computed from."""

    pcn: Pcn
    fy: str
    posts: Sequence[Post]
    live_claims: Sequence[Claim]  # up to the FY's last month, by post and month
    funding_rate: FundingRate | None
    balances: Sequence[BudgetBalance]
    roles: Mapping[str, Role | None]
    list_size: int  # the FY's, on which its role caps are judged
    terms: Mapping[int, Sequence[PostTerms]]  # each post's dated terms


def read_inputs(session: Session, catalogue: RoleCatalogue, pcn: Pcn, fy: str) -> Inputs:
    """The four reads of a forecast, and each post's role from the catalogue (503 when it cannot be
    read: nothing is projected on a guess)."""
    start, end = financial_year(fy)
    posts = posts_repo.posts_in_fy(session, pcn.code, fy, start, end)
    roles: dict[str, Role | None] = {}
    for post in posts:
        if post.role_code not in roles:
            roles[post.role_code] = catalogue.role(post.role_code)
    return Inputs(
        pcn=pcn,
        fy=fy,
        posts=posts,
        live_claims=claims_repo.live_claims_of_pcn(session, pcn.code, until_month=month_text(end.year, end.month)),
        funding_rate=funding_rates_repo.get_funding_rate(session, fy),
        balances=ledger_repo.balances_of(session, pcn.code, fy),
        roles=roles,
        list_size=register_repo.list_size_for(session, pcn, fy),
        terms=posts_repo.terms_of_posts(session, [cast(int, p.id) for p in posts]),
    )


def build(session: Session, catalogue: RoleCatalogue, pcn: Pcn, fy: str) -> ForecastPublic:
    return project(read_inputs(session, catalogue, pcn, fy), today=today_in_england())


def project(inputs: Inputs, *, today: date) -> ForecastPublic:
    """The forecast computed from what was read: no I/O."""
    start, end = financial_year(inputs.fy)
    months = months_from(start.year, start.month, end)
    by_post: dict[int, list[Claim]] = {}
    counted: dict[tuple[str, str], dict[int, int]] = {}  # (role, month) → post → largest hours counted
    for claim in inputs.live_claims:
        by_post.setdefault(claim.post_id, []).append(claim)
        if claim.status in COUNTED:
            posts = counted.setdefault((claim.role_code, claim.month), {})
            posts[claim.post_id] = max(posts.get(claim.post_id, 0), claim.hours_per_week_centi)
    forecast_posts: list[ForecastPost] = []
    for post in inputs.posts:
        assert post.id is not None
        role = inputs.roles[post.role_code]
        pot = pot_of(post.role_code, inputs.funding_rate)
        post_claims = by_post.get(post.id, [])
        claimed = {c.month: c for c in post_claims}
        basis = _basis(post_claims)
        cap = role.cap_for(inputs.fy) if role is not None else None
        rows: list[ForecastMonth] = []
        for year, number in months:
            month = month_text(year, number)
            live = claimed.get(month)
            if live is not None:
                rows.append(_claimed_month(month, live))
                continue
            in_use = None
            if cap is not None:
                others = counted.get((post.role_code, month), {})
                in_use = CapInUse(
                    unit=cap.unit,
                    limit=cap.limit_for(inputs.list_size),
                    pcn_code=inputs.pcn.code,
                    list_size=inputs.list_size,
                    other_posts_centi=[centi for other, centi in others.items() if other != post.id],
                )
            terms = inputs.terms.get(post.id, ())
            rows.append(
                _projected_month(post, role, year, number, basis, pot=pot, cap=in_use, today=today, terms=terms)
            )
        reasons = list(dict.fromkeys(m.reason for m in rows if m.reason is not None))
        forecast_posts.append(
            ForecastPost(
                post_id=post.id,
                role_code=post.role_code,
                display_name=post.display_name,
                geography=post.geography,
                wte=hours.wte_of(post.hours_per_week_centi),
                start_date=post.start_date,
                leave_date=post.leave_date,
                baseline=post.baseline,
                pot=pot,
                basis=basis,
                claimed_pence=sum(m.claimed_pence for m in rows),
                projected_pence=sum(m.projected_pence for m in rows),
                reasons=reasons,
                months=rows,
            )
        )
    return ForecastPublic(
        pcn_code=inputs.pcn.code,
        fy=inputs.fy,
        as_of=today,
        pots=_pots(inputs.balances, forecast_posts),
        posts=forecast_posts,
    )


def _basis(post_claims: Sequence[Claim]) -> ForecastBasis:
    whole = [c for c in post_claims if c.days_in_post == c.days_in_month]
    if not whole:
        return ForecastBasis(source="cap", claim_id=None, month=None, actual_pence=None)
    last = whole[-1]
    return ForecastBasis(source="last_claim", claim_id=last.id, month=last.month, actual_pence=last.actual_pence)


def _claimed_month(month: str, claim: Claim) -> ForecastMonth:
    is_draft = claim.status == ClaimStatus.DRAFT
    return ForecastMonth(
        month=month,
        state="draft" if is_draft else "claimed",
        claim_id=claim.id,
        claim_status=claim.status,
        claimed_pence=0 if is_draft else claim.reimbursable_pence,
        days_in_post=claim.days_in_post,
        days_in_month=claim.days_in_month,
        cap_pence=claim.cap_pence,
        funding_share=claim.funding_share,
        projected_pence=claim.reimbursable_pence if is_draft else 0,
        reason=None,
        flags=["draft"] if is_draft else [],
    )


def _projected_month(
    post: Post,
    role: Role | None,
    year: int,
    number: int,
    basis: ForecastBasis,
    *,
    pot: str,
    cap: CapInUse | None,
    today: date,
    terms: Sequence[PostTerms] = (),
) -> ForecastMonth:
    """A month with no live claim, computed as a claim for it would be (:func:`assess`), at the basis."""
    month = month_text(year, number)
    first, last = claims_math.month_bounds(year, number)
    rate = rate_for(role, post, first) if role is not None else None
    # With no basis, at the cap: any amount at least the cap will do, and a month's cap (annual maximum
    # × a WTE of at most 1.28 × a fraction of the month ÷ 12) is always below the annual maximum.
    at_cap = rate.annual_max_pence if rate is not None else 0
    paid = basis.actual_pence if basis.actual_pence is not None else at_cap
    c = assess(
        post=post,
        role=role,
        month=month,
        pot=pot,
        inputs=PaidAmounts(salary_pence=paid),
        today=today,
        duplicate=None,
        cap=cap,
        terms=terms,
    )
    codes = [f.code for f in c.failures]
    ruled_out = next((code for code in NOT_CLAIMABLE if code in codes), None)
    unknown = next((code for code in CANNOT_PROJECT if code in codes), None)
    result = c.result
    flags = [code for code in WARNINGS if code in codes]
    if c.rate is not None and c.rate.provenance == "estimated":
        flags.insert(0, "estimated-rate")
    days = (
        result.days_in_post
        if result is not None
        else claims_math.days_in_post(post.start_date, post.leave_date, year, number)
    )
    state = "not_claimable" if ruled_out else "unprojected" if unknown or result is None else "projected"
    return ForecastMonth(
        month=month,
        state=state,
        claim_id=None,
        claim_status=None,
        claimed_pence=0,
        days_in_post=days,
        days_in_month=last.day,
        cap_pence=result.cap_pence if result is not None else None,
        funding_share=claims_math.decimal_string(result.funding_share, 4) if result is not None else None,
        projected_pence=result.reimbursable_pence if state == "projected" and result is not None else 0,
        reason=ruled_out or unknown or (None if result is not None else "rate-not-published"),
        flags=flags if state == "projected" else [],
    )


def _pots(balances: Sequence[BudgetBalance], forecast_posts: Sequence[ForecastPost]) -> list[ForecastPot]:
    by_pot = {b.pot: b for b in balances}
    pot_names = {"arrs", *by_pot, *(p.pot for p in forecast_posts)}
    pots: list[ForecastPot] = []
    for pot in (p for p in POTS if p in pot_names):
        balance = by_pot.get(pot)
        allocated, available, held, approved, paid, lapsed = (
            (
                balance.allocated_pence,
                balance.available_pence,
                balance.held_pence,
                balance.approved_pence,
                balance.paid_pence,
                balance.lapsed_pence,
            )
            if balance is not None
            else (0, 0, 0, 0, 0, 0)
        )
        of_pot = [p for p in forecast_posts if p.pot == pot]
        projected = sum(p.projected_pence for p in of_pot)
        outturn = paid + approved + held + projected
        pots.append(
            ForecastPot(
                pot=pot,
                allocated_pence=allocated,
                available_pence=available,
                held_pence=held,
                approved_pence=approved,
                paid_pence=paid,
                lapsed_pence=lapsed,
                projected_pence=projected,
                projected_outturn_pence=outturn,
                projected_lapse_pence=allocated - outturn,
                unprojected_months=sum(1 for p in of_pot for m in p.months if m.state == "unprojected"),
            )
        )
    return pots
