"""Workforce plans (domain §6): per PCN and FY, planned WTE by role with a phase (1 to 4) and an
intended start month; a PUT replaces the whole plan (``If-Match`` for a replacement), the replaced
plan is kept. The GET compares plan, posts and claims per role."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from fractions import Fraction

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.context import current_request_id
from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.principal import Principal
from arrs_kit.problems import PreconditionFailed, ProblemError
from budget.clients.roles import RoleCatalogue
from budget.domain import claims_math, hours
from budget.domain.calendar import financial_year, month_text, parse_month, today_in_england
from budget.errors import MonthOutsideFinancialYear, RoleNotClaimable, WorkforcePlanNotFound
from budget.models import Pcn, WorkforcePlan, WorkforcePlanHistory, WorkforcePlanLine
from budget.repository import claims as claims_repo
from budget.repository import planning as planning_repo
from budget.repository import posts as posts_repo
from budget.repository import register as register_repo
from budget.schemas.workforce_plans import (
    ReplacedWorkforcePlan,
    RoleComparison,
    RoleComparisonRow,
    WorkforcePlanLineIn,
    WorkforcePlanLinePublic,
    WorkforcePlanPublic,
    WorkforcePlanPut,
)
from budget.service import common


def plan_etag(plan: WorkforcePlan) -> str:
    return make_etag("workforce-plan", f"{plan.pcn_code}-{plan.fy}", plan.version)


def _line_key(line: WorkforcePlanLinePublic) -> tuple[int, str, str]:
    return (line.phase, line.start_month, line.role_code)


def _lines_public(rows: Iterable[WorkforcePlanLine]) -> list[WorkforcePlanLinePublic]:
    lines = [
        WorkforcePlanLinePublic(
            role_code=r.role_code,
            planned_wte=hours.centi_to_wte(r.planned_wte_centi),
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
            planned_wte=hours.centi_to_wte(hours.wte_to_centi(line.planned_wte)),
            phase=line.phase,
            start_month=line.start_month,
            note=line.note,
        )
        for line in lines
    ]
    return sorted(normalised, key=_line_key)


def _check_lines(
    catalogue: RoleCatalogue, fy: str, start: date, end: date, lines: Sequence[WorkforcePlanLineIn]
) -> None:
    """Every start month inside the FY, every role in the catalogue and claimable on the 1st of its
    start month. The failures are collected: the problem is the first, ``checks`` lists them all."""
    failures: list[tuple[int, ProblemError]] = []
    for index, line in enumerate(lines):
        year, number = parse_month(line.start_month)
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
    pcn: Pcn,
    fy: str,
    data: WorkforcePlanPut,
    if_match: str | None,
) -> tuple[WorkforcePlanPublic, str, bool]:
    """The PCN itself (or an admin): set or replace the PCN's plan for a financial year. The first
    plan is created without ``If-Match`` (sent, it is 412: there is nothing to match); a replacement
    needs it (428 without, 412 stale). The same lines again change nothing. Answers the plan, its
    ETag and whether it was created. ``pcn``: the principal's own (:data:`budget.deps.OwnPcn`)."""
    start, end = financial_year(fy)
    _check_lines(catalogue, fy, start, end, data.lines)  # the catalogue is read before any lock is taken
    register_repo.get_pcn(session, pcn.code, for_update=True)  # writers of one PCN's plans queue here
    plan = planning_repo.get_plan(session, pcn.code, fy, for_update=True)
    new_lines = _lines_in(data.lines)
    now = common.now()
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
            created_by=common.actor(principal),
            updated_at=now,
            updated_by=common.actor(principal),
        )
        session.add(plan)
        session.flush()
        _add_lines(session, plan, data.lines)
        created = True
    else:
        require_if_match(if_match, plan_etag(plan))
        old_lines = _lines_public(planning_repo.plan_lines(session, pcn.code, fy))
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
                    replaced_by=common.actor(principal),
                    request_id=current_request_id(),
                )
            )
            planning_repo.delete_plan_lines(session, plan.pcn_code, plan.fy)
            _add_lines(session, plan, data.lines)
            plan.version += 1
            plan.updated_at, plan.updated_by = now, common.actor(principal)
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
                planned_wte_centi=hours.wte_to_centi(line.planned_wte),
                note=line.note,
            )
        )
    session.flush()


def get_plan(*, session: Session, pcn: Pcn, fy: str) -> tuple[WorkforcePlanPublic, str]:
    """A readable PCN's plan with its comparison and history; 404 without a plan."""
    financial_year(fy)
    plan = planning_repo.get_plan(session, pcn.code, fy)
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
    return [
        ReplacedWorkforcePlan(
            version=row.version,
            lines=[WorkforcePlanLinePublic.model_validate(line) for line in row.lines],
            set_at=row.set_at,
            set_by=row.set_by,
            replaced_at=row.replaced_at,
            replaced_by=row.replaced_by,
        )
        for row in planning_repo.plan_history(session, pcn_code, fy)
    ]


def _plan_public(session: Session, pcn: Pcn, plan: WorkforcePlan) -> WorkforcePlanPublic:
    start, end = financial_year(plan.fy)
    as_of = min(max(today_in_england(), start), end)
    lines = _lines_public(planning_repo.plan_lines(session, pcn.code, plan.fy))
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
    posts = posts_repo.non_baseline_posts_in(session, pcn_code, start, end)
    live = claims_repo.live_claims_of_pcn(session, pcn_code, fy=fy)
    as_of_month = month_text(as_of.year, as_of.month)
    roles = sorted({line.role_code for line in lines} | {p.role_code for p in posts} | {c.role_code for c in live})
    rows: list[RoleComparison] = []
    for role_code in roles:
        role_lines = [line for line in lines if line.role_code == role_code]
        planned = sum((Fraction(hours.wte_to_centi(line.planned_wte), 100) for line in role_lines), Fraction(0))
        due = sum(
            (
                Fraction(hours.wte_to_centi(line.planned_wte), 100)
                for line in role_lines
                if line.start_month <= as_of_month
            ),
            Fraction(0),
        )
        role_posts = [p for p in posts if p.role_code == role_code]
        in_post = sum((hours.wte(p.hours_per_week_centi) for p in role_posts), Fraction(0))
        in_post_now = sum(
            (
                hours.wte(p.hours_per_week_centi)
                for p in role_posts
                if p.start_date <= as_of and (p.leave_date is None or p.leave_date >= as_of)
            ),
            Fraction(0),
        )
        role_claims = [c for c in live if c.role_code == role_code]
        claimed_month = max((c.month for c in role_claims), default=None)
        claimed = sum((hours.wte(c.hours_per_week_centi) for c in role_claims if c.month == claimed_month), Fraction(0))
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
                planned_wte=hours.fixed(planned, 4),
                planned_wte_due=hours.fixed(due, 4),
                phases=sorted({line.phase for line in role_lines}),
                first_start_month=min((line.start_month for line in role_lines), default=None),
                posts_in_fy=len(role_posts),
                in_post_wte=hours.fixed(in_post, 4),
                in_post_wte_as_of=hours.fixed(in_post_now, 4),
                claimed_month=claimed_month,
                claimed_wte=hours.fixed(claimed, 4),
                claimed_pence=sum(c.reimbursable_pence for c in role_claims),
                gap_wte=hours.fixed(planned - in_post, 4),
                due_gap_wte=hours.fixed(due - in_post_now, 4),
                claim_gap_wte=hours.fixed(in_post_now - claimed, 4),
                status=status,
            )
        )
    return rows
