"""Forecast, headroom and workforce plans (domain §6).

**Forecast** (per PCN and FY, any day). A month of a post is *claimed* when the post has a live claim
for it (kind ``claim``, status not rejected or withdrawn), and then:

- a submitted, approved or paid claim is already in the pot's ``held``, ``approved`` or ``paid``, so
  the month projects nothing more (state ``claimed``);
- a draft holds nothing yet, so the month is projected at the draft's ``reimbursable_pence`` (state
  ``draft``, flagged ``draft``).

Every other month of the FY is projected as a claim for it would be computed: by
:func:`budget.service.claims.compute` itself (the rate in force on the month's 1st, the post's WTE,
its days in post that month, the funding share as a claim takes it, rounded half up once), with the
post's last claimed ``actual_pence`` as the amounts paid, or, when the post has no claim yet, its cap.
"Last claimed" is the post's latest live claim (drafts included) for a *whole* month up to the end of
the FY: a part month (a start or a leave in it) says little about a whole month's pay, so a post
with only part-month claims is projected at its cap, which errs towards spending (and so never
overstates the headroom). Months the checks of a claim rule out (``post-not-active``,
``post-in-baseline``, ``role-not-claimable``) project 0 with that reason; a month with no rate in force
(``rate-not-published``) cannot be projected: it counts 0, says so, and the pot's
``unprojected_months`` counts it, rather than failing the whole forecast. A roles service that cannot
be read fails it (503 ``roles-unavailable``): nothing is projected on a guessed rate.

Per pot: projected outturn = paid + approved + held + projected; projected lapse = allocated −
outturn (negative: an overspend risk).

**Headroom**: for a role and a start month, the WTE the PCN could still afford to the FY's end at
that role's rate in force on each month's 1st and its funding share, out of what the pot has
available less what the forecast projects the existing posts still to claim (``committed``). The
answer is rounded *down* to 0.01 WTE and checked by computing the claims it implies month by month,
so it never promises money that is not there.

**Workforce plans**: per PCN and FY, planned WTE by role with a phase (1 to 4) and an intended start
month; a PUT replaces the whole plan (``If-Match`` for a replacement), the replaced plan is kept. The
GET compares plan, posts and claims per role.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.calendar import financial_year
from arrs_kit.context import current_request_id
from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.principal import Principal
from arrs_kit.problems import Forbidden, PreconditionFailed, ProblemError
from budget import claims_math, rules, scope
from budget import repository as repo
from budget.catalogue import Role, RoleCatalogue
from budget.errors import (
    MonthOutsideFinancialYear,
    RateNotPublished,
    RoleNotClaimable,
    WorkforcePlanNotFound,
)
from budget.models import POTS, Claim, Pcn, Post, WorkforcePlan, WorkforcePlanHistory, WorkforcePlanLine
from budget.planning_schemas import (
    ForecastBasis,
    ForecastMonth,
    ForecastPost,
    ForecastPot,
    ForecastPublic,
    ForecastRow,
    HeadroomMonth,
    HeadroomPublic,
    ReplacedWorkforcePlan,
    RoleCapPublic,
    RoleComparison,
    RoleComparisonRow,
    WorkforcePlanLineIn,
    WorkforcePlanLinePublic,
    WorkforcePlanPublic,
    WorkforcePlanPut,
)
from budget.schemas import ClaimInput
from budget.service import access, claims

LIVE = ("draft", "submitted", "approved", "paid")
"""A live claim (not rejected or withdrawn): the month counts as claimed."""

NOT_CLAIMABLE = ("post-in-baseline", "post-not-active", "role-not-claimable")
"""Checks that rule a month out whatever the amounts (in the order a reason is reported)."""

CANNOT_PROJECT = ("rate-not-published",)
WARNINGS = ("role-cap-exceeded",)
FULL_TIME_CENTI = rules.FULL_TIME_CENTI


# The calendar of a financial year


def _month_text(year: int, number: int) -> str:
    return f"{year}-{number:02d}"


def _months_from(year: int, number: int, end: date) -> list[tuple[int, int]]:
    """Months from (year, number) to the one holding ``end``, inclusive."""
    months = []
    while (year, number) <= (end.year, end.month):
        months.append((year, number))
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def _fy_months(start: date, end: date) -> list[tuple[int, int]]:
    return _months_from(start.year, start.month, end)


def _fy(fy: str) -> tuple[date, date]:
    return financial_year(fy)  # 422 invalid-financial-year


# Exact WTE shown as text


def _fixed(value: Fraction, places: int) -> str:
    """A signed decimal string with exactly ``places`` decimals, rounded half up (display)."""
    scaled = claims_math.round_half_up(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"


def _wte(centi_hours: int) -> Fraction:
    """Hundredths of an hour a week as exact WTE."""
    return Fraction(centi_hours, FULL_TIME_CENTI)


def _planned_centi(text: str) -> int:
    return int(Decimal(text) * 100)


def _planned_text(centi: int) -> str:
    whole, part = divmod(centi, 100)
    return f"{whole}.{part:02d}"


# Forecast


def forecast(*, session: Session, catalogue: RoleCatalogue, principal: Principal, code: str, fy: str) -> ForecastPublic:
    """A PCN's forecast for a financial year; 404 outside the client's scope."""
    pcn = access.readable_pcn(session, principal, code)
    start, end = _fy(fy)
    return _forecast(session, catalogue, pcn, fy, start, end)


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


def _posts_in_fy(session: Session, pcn_code: str, fy: str, start: date, end: date) -> Sequence[Post]:
    """The PCN's posts in post on a day of the FY, and any post with a live claim in it."""
    claimed = select(col(Claim.post_id)).where(
        col(Claim.pcn_code) == pcn_code,
        col(Claim.fy) == fy,
        col(Claim.kind) == claims.CLAIM,
        col(Claim.status).in_(LIVE),
    )
    active = (col(Post.start_date) <= end) & (col(Post.leave_date).is_(None) | (col(Post.leave_date) >= start))
    stmt = (
        select(Post)
        .where(col(Post.pcn_code) == pcn_code, or_(active, col(Post.id).in_(claimed)))
        .order_by(col(Post.id))
    )
    return session.scalars(stmt).all()


def _live_claims_until(session: Session, pcn_code: str, last_month: str) -> dict[int, list[Claim]]:
    """The PCN's live claims up to ``last_month``, by post, oldest month first."""
    stmt = (
        select(Claim)
        .where(
            col(Claim.pcn_code) == pcn_code,
            col(Claim.kind) == claims.CLAIM,
            col(Claim.status).in_(LIVE),
            col(Claim.month) <= last_month,
        )
        .order_by(col(Claim.post_id), col(Claim.month), col(Claim.id))
    )
    grouped: dict[int, list[Claim]] = {}
    for claim in session.scalars(stmt).all():
        grouped.setdefault(claim.post_id, []).append(claim)
    return grouped


def _basis(post_claims: Sequence[Claim]) -> ForecastBasis:
    whole = [c for c in post_claims if c.days_in_post == c.days_in_month]
    if not whole:
        return ForecastBasis(source="cap", claim_id=None, month=None, actual_pence=None)
    last = whole[-1]
    return ForecastBasis(source="last_claim", claim_id=last.id, month=last.month, actual_pence=last.actual_pence)


def _claimed_month(month: str, claim: Claim) -> ForecastMonth:
    is_draft = claim.status == "draft"
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
    session: Session,
    catalogue: RoleCatalogue,
    post: Post,
    role: Role | None,
    year: int,
    number: int,
    basis: ForecastBasis,
) -> ForecastMonth:
    """A month with no live claim, computed as a claim for it would be (claims.compute), at the basis."""
    month = _month_text(year, number)
    first, last = claims_math.month_bounds(year, number)
    rate = role.rate_in_force(post.geography, first) if role is not None else None
    # With no basis, at the cap: any amount at least the cap will do, and a month's cap (annual maximum
    # × a WTE of at most 1.28 × a fraction of the month ÷ 12) is always below the annual maximum.
    at_cap = rate.annual_max_pence if rate is not None else 0
    paid = basis.actual_pence if basis.actual_pence is not None else at_cap
    # The amounts are built here, not read from a request: construct skips the request bounds.
    inputs = ClaimInput.model_construct(
        salary_pence=paid, employer_ni_pence=0, employer_pension_pence=0, supplier_fee_pence=0
    )
    c = claims.compute(session, catalogue, post=post, month=month, inputs=inputs, check_duplicate=False)
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


def _forecast(session: Session, catalogue: RoleCatalogue, pcn: Pcn, fy: str, start: date, end: date) -> ForecastPublic:
    months = _fy_months(start, end)
    posts = _posts_in_fy(session, pcn.code, fy, start, end)
    live = _live_claims_until(session, pcn.code, _month_text(end.year, end.month))
    pots_of_roles: dict[str, str] = {}
    forecast_posts: list[ForecastPost] = []
    for post in posts:
        assert post.id is not None
        role = catalogue.role(post.role_code)  # 503 roles-unavailable: nothing projected on a guess
        if post.role_code not in pots_of_roles:
            pots_of_roles[post.role_code] = claims.pot_for(session, post.role_code, fy)
        post_claims = live.get(post.id, [])
        by_month = {c.month: c for c in post_claims}
        basis = _basis(post_claims)
        rows: list[ForecastMonth] = []
        for year, number in months:
            month = _month_text(year, number)
            claim = by_month.get(month)
            if claim is not None:
                rows.append(_claimed_month(month, claim))
            else:
                rows.append(_projected_month(session, catalogue, post, role, year, number, basis))
        reasons = list(dict.fromkeys(m.reason for m in rows if m.reason is not None))
        forecast_posts.append(
            ForecastPost(
                post_id=post.id,
                role_code=post.role_code,
                display_name=post.display_name,
                geography=post.geography,
                wte=rules.wte_of(post.hours_per_week_centi),
                start_date=post.start_date,
                leave_date=post.leave_date,
                baseline=post.baseline,
                pot=pots_of_roles[post.role_code],
                basis=basis,
                claimed_pence=sum(m.claimed_pence for m in rows),
                projected_pence=sum(m.projected_pence for m in rows),
                reasons=reasons,
                months=rows,
            )
        )
    balances = {b.pot: b for b in repo.balances_of(session, pcn.code, fy)}
    pot_names = {"arrs", *balances, *(p.pot for p in forecast_posts)}
    pots: list[ForecastPot] = []
    for pot in (p for p in POTS if p in pot_names):
        balance = balances.get(pot)
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
    return ForecastPublic(pcn_code=pcn.code, fy=fy, as_of=access.today_in_england(), pots=pots, posts=forecast_posts)


# Headroom


def _cost(terms: Sequence[tuple[int, int, int, str]], wte_centi: int) -> int:
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


def _affordable_centi(headroom_pence: int, terms: Sequence[tuple[int, int, int, str]]) -> int:
    """The most hundredths of a WTE whose claims over ``terms`` fit in ``headroom_pence``."""
    per_wte = _cost(terms, 100)
    if headroom_pence <= 0 or per_wte <= 0:
        return 0
    centi = headroom_pence * 100 // per_wte  # the estimate; rounding per month may move it by a step
    while centi > 0 and _cost(terms, centi) > headroom_pence:
        centi -= 1
    while _cost(terms, centi + 1) <= headroom_pence:
        centi += 1
    return centi


def headroom(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    code: str,
    role_code: str,
    from_month: str,
    geography: str,
) -> HeadroomPublic:
    """The WTE of ``role_code`` the PCN could still afford from ``from_month`` to the FY's end."""
    pcn = access.readable_pcn(session, principal, code)
    fy = claims.fy_of_month(from_month)
    start, end = _fy(fy)
    role = catalogue.role(role_code)
    if role is None:
        raise RoleNotClaimable(f"The role catalogue has no role {role_code}.", extra={"role_code": role_code})
    year, number = claims.parse_month(from_month)
    months: list[HeadroomMonth] = []
    terms: list[tuple[int, int, int, str]] = []
    missing: list[str] = []
    estimated = False
    for y, n in _months_from(year, number, end):
        first, _ = claims_math.month_bounds(y, n)
        month = _month_text(y, n)
        rate = role.rate_in_force(geography, first)
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
                cost_per_wte_pence=_cost(terms[-1:], 100),
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
    pot = claims.pot_for(session, role.code, fy)
    balance = repo.get_balance(session, pcn.code, fy, pot)
    available = balance.available_pence if balance is not None else 0
    projection = _forecast(session, catalogue, pcn, fy, start, end)
    committed = sum(p.projected_pence for p in projection.pots if p.pot == pot)
    unprojected = [
        p.post_id for p in projection.posts if p.pot == pot and any(m.state == "unprojected" for m in p.months)
    ]
    room = available - committed
    centi = _affordable_centi(room, terms)
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
        affordable_wte=_planned_text(centi),
        affordable_cost_pence=_cost(terms, centi) if centi else 0,
        estimated_rate=estimated,
        complete=not unprojected,
        unprojected_post_ids=unprojected,
        role_cap=RoleCapPublic(unit=cap.unit, limit=cap.limit_for(pcn.list_size)) if cap is not None else None,
        months=months,
    )


# Workforce plans


def plan_etag(plan: WorkforcePlan) -> str:
    return make_etag("workforce-plan", f"{plan.pcn_code}-{plan.fy}", plan.version)


def _line_key(line: WorkforcePlanLinePublic) -> tuple[int, str, str]:
    return (line.phase, line.start_month, line.role_code)


def _lines_public(rows: Iterable[WorkforcePlanLine]) -> list[WorkforcePlanLinePublic]:
    lines = [
        WorkforcePlanLinePublic(
            role_code=r.role_code,
            planned_wte=_planned_text(r.planned_wte_centi),
            phase=r.phase,
            start_month=r.start_month,
            note=r.note,
        )
        for r in rows
    ]
    return sorted(lines, key=_line_key)


def _lines_in(lines: Iterable[WorkforcePlanLineIn]) -> list[WorkforcePlanLinePublic]:
    normalised = [
        WorkforcePlanLinePublic(
            role_code=line.role_code,
            planned_wte=_planned_text(_planned_centi(line.planned_wte)),
            phase=line.phase,
            start_month=line.start_month,
            note=line.note,
        )
        for line in lines
    ]
    return sorted(normalised, key=_line_key)


def _plan_lines(session: Session, pcn_code: str, fy: str) -> Sequence[WorkforcePlanLine]:
    stmt = select(WorkforcePlanLine).where(col(WorkforcePlanLine.pcn_code) == pcn_code, col(WorkforcePlanLine.fy) == fy)
    return session.scalars(stmt.order_by(col(WorkforcePlanLine.id))).all()


def _check_lines(
    catalogue: RoleCatalogue, fy: str, start: date, end: date, lines: Sequence[WorkforcePlanLineIn]
) -> None:
    """Every start month inside the FY, every role in the catalogue and claimable on the 1st of its
    start month. The failures are collected: the problem is the first, ``checks`` lists them all."""
    failures: list[tuple[int, ProblemError]] = []
    for index, line in enumerate(lines):
        year, number = claims.parse_month(line.start_month)
        first, _ = claims_math.month_bounds(year, number)
        inside = start <= first <= end
        if not inside:
            failures.append(
                (
                    index,
                    MonthOutsideFinancialYear(
                        f"lines[{index}]: start_month {line.start_month} is not in {fy} ({start} to {end})."
                    ),
                )
            )
        role = catalogue.role(line.role_code)  # 503 roles-unavailable when the catalogue cannot be read
        if role is None:
            missing = RoleNotClaimable(f"lines[{index}]: the role catalogue has no role {line.role_code}.")
            failures.append((index, missing))
        elif inside and not role.claimable_on(first):
            ended = f", retired after {role.retired_on}" if role.retired_on else ""
            failures.append(
                (
                    index,
                    RoleNotClaimable(
                        f"lines[{index}]: {role.code} was claimable from {role.added_on}{ended}; not on {first}."
                    ),
                )
            )
    if failures:
        first_error = failures[0][1]
        first_error.extra = {
            **first_error.extra,
            "checks": [{"line": i, "code": f.code, "status": f.status, "detail": f.detail} for i, f in failures],
        }
        raise first_error


def put_plan(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    code: str,
    fy: str,
    data: WorkforcePlanPut,
    if_match: str | None,
) -> tuple[WorkforcePlanPublic, str, bool]:
    """The PCN itself (or an admin): set or replace the PCN's plan for a financial year. The first
    plan is created without ``If-Match`` (sent, it is 412: there is nothing to match); a replacement
    needs it (428 without, 412 stale). The same lines again change nothing. Answers the plan, its
    ETag and whether it was created."""
    pcn_code = access.readable_pcn(session, principal, code).code  # 404 outside scope, as for no PCN
    if not scope.may_manage_post(principal, pcn_code=pcn_code):
        raise Forbidden("Only the PCN itself or an admin sets its workforce plan.")
    start, end = _fy(fy)
    _check_lines(catalogue, fy, start, end, data.lines)  # the catalogue is read before any lock is taken
    pcn = repo.get_pcn(session, pcn_code, for_update=True)  # writers of one PCN's plans queue here
    assert pcn is not None
    plan = session.scalars(
        select(WorkforcePlan)
        .where(col(WorkforcePlan.pcn_code) == pcn.code, col(WorkforcePlan.fy) == fy)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    new_lines = _lines_in(data.lines)
    now = access.now()
    created = False
    if plan is None:
        if if_match is not None and if_match.strip():
            raise PreconditionFailed(
                f"PCN {pcn.code} has no workforce plan for {fy} yet; send no If-Match to create it."
            )
        plan = WorkforcePlan(
            pcn_code=pcn.code,
            fy=fy,
            version=1,
            created_at=now,
            created_by=access.actor(principal),
            updated_at=now,
            updated_by=access.actor(principal),
        )
        session.add(plan)
        session.flush()
        _add_lines(session, plan, data.lines)
        created = True
    else:
        require_if_match(if_match, plan_etag(plan))
        old_lines = _lines_public(_plan_lines(session, pcn.code, fy))
        if old_lines == new_lines:
            session.rollback()  # the same plan again: nothing to record
        else:
            session.add(
                WorkforcePlanHistory(
                    pcn_code=plan.pcn_code,
                    fy=plan.fy,
                    version=plan.version,
                    lines=[line.model_dump(mode="json") for line in old_lines],
                    set_at=plan.updated_at,
                    set_by=plan.updated_by,
                    replaced_at=now,
                    replaced_by=access.actor(principal),
                    request_id=current_request_id(),
                )
            )
            # Core DELETE, run now: the ORM would insert the new lines before deleting the old ones.
            session.execute(
                delete(WorkforcePlanLine).where(
                    col(WorkforcePlanLine.pcn_code) == plan.pcn_code, col(WorkforcePlanLine.fy) == plan.fy
                )
            )
            _add_lines(session, plan, data.lines)
            plan.version += 1
            plan.updated_at, plan.updated_by = now, access.actor(principal)
    if session.in_transaction():
        try:
            session.commit()
        except IntegrityError as exc:  # not expected: the PCN's lock serialises writers of its plans
            session.rollback()
            raise PreconditionFailed(
                f"The workforce plan of PCN {pcn.code} for {fy} changed meanwhile; read it again and retry."
            ) from exc
    return _plan_public(session, pcn, plan), plan_etag(plan), created


def _add_lines(session: Session, plan: WorkforcePlan, lines: Iterable[WorkforcePlanLineIn]) -> None:
    for line in lines:
        session.add(
            WorkforcePlanLine(
                pcn_code=plan.pcn_code,
                fy=plan.fy,
                role_code=line.role_code,
                phase=line.phase,
                start_month=line.start_month,
                planned_wte_centi=_planned_centi(line.planned_wte),
                note=line.note,
            )
        )
    session.flush()


def get_plan(*, session: Session, principal: Principal, code: str, fy: str) -> tuple[WorkforcePlanPublic, str]:
    """The plan with its comparison and history; 404 outside the client's scope or without a plan."""
    pcn = access.readable_pcn(session, principal, code)
    _fy(fy)
    plan = session.get(WorkforcePlan, (pcn.code, fy))
    if plan is None:
        raise WorkforcePlanNotFound(
            f"PCN {pcn.code} has no workforce plan for {fy}; the PCN sets it with "
            f"PUT /v1/pcns/{pcn.code}/workforce-plans/{fy}.",
            extra={"pcn_code": pcn.code, "fy": fy},
        )
    return _plan_public(session, pcn, plan), plan_etag(plan)


def comparison_rows(public: WorkforcePlanPublic) -> list[RoleComparisonRow]:
    return [
        RoleComparisonRow(pcn_code=public.pcn_code, fy=public.fy, as_of=public.as_of, **row.model_dump())
        for row in public.comparison
    ]


def _history(session: Session, pcn_code: str, fy: str) -> list[ReplacedWorkforcePlan]:
    stmt = (
        select(WorkforcePlanHistory)
        .where(col(WorkforcePlanHistory.pcn_code) == pcn_code, col(WorkforcePlanHistory.fy) == fy)
        .order_by(col(WorkforcePlanHistory.id))
    )
    return [
        ReplacedWorkforcePlan(
            version=row.version,
            lines=[WorkforcePlanLinePublic.model_validate(line) for line in row.lines],
            set_at=row.set_at,
            set_by=row.set_by,
            replaced_at=row.replaced_at,
            replaced_by=row.replaced_by,
        )
        for row in session.scalars(stmt).all()
    ]


def _plan_public(session: Session, pcn: Pcn, plan: WorkforcePlan) -> WorkforcePlanPublic:
    start, end = _fy(plan.fy)
    as_of = min(max(access.today_in_england(), start), end)
    lines = _lines_public(_plan_lines(session, pcn.code, plan.fy))
    return WorkforcePlanPublic(
        pcn_code=pcn.code,
        fy=plan.fy,
        version=plan.version,
        lines=lines,
        as_of=as_of,
        comparison=_compare(session, pcn.code, plan.fy, start, end, as_of, lines),
        created_at=plan.created_at,
        created_by=plan.created_by,
        updated_at=plan.updated_at,
        updated_by=plan.updated_by,
        history=_history(session, pcn.code, plan.fy),
    )


def _compare(
    session: Session,
    pcn_code: str,
    fy: str,
    start: date,
    end: date,
    as_of: date,
    lines: Sequence[WorkforcePlanLinePublic],
) -> list[RoleComparison]:
    """Per role: the plan, the posts (not in the baseline) in post in the FY, and the live claims."""
    posts = session.scalars(
        select(Post).where(
            col(Post.pcn_code) == pcn_code,
            col(Post.baseline).is_(False),
            col(Post.start_date) <= end,
            col(Post.leave_date).is_(None) | (col(Post.leave_date) >= start),
        )
    ).all()
    live = session.scalars(
        select(Claim).where(
            col(Claim.pcn_code) == pcn_code,
            col(Claim.fy) == fy,
            col(Claim.kind) == claims.CLAIM,
            col(Claim.status).in_(LIVE),
        )
    ).all()
    as_of_month = _month_text(as_of.year, as_of.month)
    roles = sorted({line.role_code for line in lines} | {p.role_code for p in posts} | {c.role_code for c in live})
    rows: list[RoleComparison] = []
    for role_code in roles:
        role_lines = [line for line in lines if line.role_code == role_code]
        planned = sum((Fraction(_planned_centi(line.planned_wte), 100) for line in role_lines), Fraction(0))
        due = sum(
            (Fraction(_planned_centi(line.planned_wte), 100) for line in role_lines if line.start_month <= as_of_month),
            Fraction(0),
        )
        role_posts = [p for p in posts if p.role_code == role_code]
        in_post = sum((_wte(p.hours_per_week_centi) for p in role_posts), Fraction(0))
        in_post_now = sum(
            (
                _wte(p.hours_per_week_centi)
                for p in role_posts
                if p.start_date <= as_of and (p.leave_date is None or p.leave_date >= as_of)
            ),
            Fraction(0),
        )
        role_claims = [c for c in live if c.role_code == role_code]
        claimed_month = max((c.month for c in role_claims), default=None)
        claimed = sum((_wte(c.hours_per_week_centi) for c in role_claims if c.month == claimed_month), Fraction(0))
        if not role_lines:
            status = "not_planned"
        elif due > in_post_now:
            status = "behind_plan"
        elif in_post_now > planned:
            status = "above_plan"
        else:
            status = "on_plan"
        rows.append(
            RoleComparison(
                role_code=role_code,
                planned_wte=_fixed(planned, 4),
                planned_wte_due=_fixed(due, 4),
                phases=sorted({line.phase for line in role_lines}),
                first_start_month=min((line.start_month for line in role_lines), default=None),
                posts_in_fy=len(role_posts),
                in_post_wte=_fixed(in_post, 4),
                in_post_wte_as_of=_fixed(in_post_now, 4),
                claimed_month=claimed_month,
                claimed_wte=_fixed(claimed, 4),
                claimed_pence=sum(c.reimbursable_pence for c in role_claims),
                gap_wte=_fixed(planned - in_post, 4),
                due_gap_wte=_fixed(due - in_post_now, 4),
                claim_gap_wte=_fixed(in_post_now - claimed, 4),
                status=status,
            )
        )
    return rows
