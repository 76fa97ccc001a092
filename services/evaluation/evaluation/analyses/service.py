"""KPI attainment of a post and the at-risk posts of a PCN (rules: :mod:`evaluation.analyses.attainment`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from arrs_kit.principal import Principal
from evaluation.analyses.attainment import Direction, KpiResult, RiskReason, evaluate_kpi, is_named
from evaluation.analyses.schemas import (
    AtRiskPost,
    KpiAttainment,
    PeriodAttainment,
    PostAttainment,
    Reason,
)
from evaluation.clients.budget import BudgetClient, Pcn, Post
from evaluation.jobplans import repository
from evaluation.jobplans.models import Kpi, KpiMeasurement, KpiTarget
from evaluation.periods import Frequency

ACTIVE = "active"


def _evaluate(kpi: Kpi, targets: Sequence[KpiTarget], values: Sequence[KpiMeasurement], today: date) -> KpiResult:
    return evaluate_kpi(
        frequency=Frequency(kpi.frequency),
        direction=Direction(kpi.direction),
        created_on=kpi.created_at.date(),
        targets=[(t.effective_from, Decimal(t.target)) for t in targets],
        values={m.period_start: Decimal(m.value) for m in values},
        today=today,
    )


def _attainment(kpi: Kpi, result: KpiResult) -> KpiAttainment:
    assert kpi.id is not None
    active = kpi.status == ACTIVE
    return KpiAttainment(
        kpi_id=kpi.id,
        name=kpi.name,
        unit=kpi.unit,
        direction=Direction(kpi.direction),
        frequency=Frequency(kpi.frequency),
        kpi_status=kpi.status,
        drift=result.drift,
        flagged=active and result.flagged,
        overdue=active and result.overdue,
        latest_status=result.latest.status if result.latest else None,
        periods=[
            PeriodAttainment(
                period_start=p.period_start,
                value=None if p.value is None else str(p.value),
                target=str(p.target),
                status=p.status,
            )
            for p in result.periods
        ],
    )


def post_attainment(*, session: Session, post: Post, today: date) -> PostAttainment:
    """Every KPI of the post, period by period, as of ``today``."""
    kpis = repository.kpis_of_posts(session, [post.id])
    ids = [k.id for k in kpis if k.id is not None]
    targets, values = repository.targets(session, ids), repository.measurements(session, ids)
    results = [_attainment(k, _evaluate(k, targets[k.id], values[k.id], today)) for k in kpis if k.id is not None]
    return PostAttainment(
        post_id=post.id,
        pcn_code=post.pcn_code,
        role_code=post.role_code,
        as_of=today,
        flagged=any(r.flagged for r in results),
        kpis=results,
    )


def _reasons(post: Post, has_plan: bool, kpis: Sequence[Kpi], results: dict[int, KpiResult]) -> list[Reason]:
    reasons: list[Reason] = []
    if not has_plan:
        reasons.append(Reason(code=RiskReason.NO_JOB_PLAN, detail="The post has no job plan."))
    if not kpis:
        reasons.append(Reason(code=RiskReason.NO_KPI, detail="The post has no active KPI."))
    if not is_named(post.supervisor_name):
        reasons.append(
            Reason(
                code=RiskReason.NO_NAMED_SUPERVISOR,
                detail=f"The post's supervisor is not named ({post.supervisor_name!r}).",
            )
        )
    overdue = [k.id for k in kpis if k.id is not None and results[k.id].overdue]
    if overdue:
        reasons.append(
            Reason(
                code=RiskReason.NO_RECENT_MEASUREMENT,
                detail="No measurement in either of the last two periods.",
                kpi_ids=overdue,
            )
        )
    drifting = [k.id for k in kpis if k.id is not None and results[k.id].flagged]
    if drifting:
        worst = max(results[i].drift for i in drifting)
        reasons.append(
            Reason(
                code=RiskReason.DRIFT,
                detail=f"Not on track for {worst} consecutive periods (2 or more flag a post).",
                kpi_ids=drifting,
            )
        )
    return reasons


def at_risk_posts(
    *, session: Session, budget: BudgetClient, principal: Principal, pcn: Pcn, today: date
) -> tuple[list[AtRiskPost], int]:
    """The PCN's posts still in post on ``today`` (or not yet started) with every reason each is at
    risk, and how many posts were evaluated. Posts come from the budget service, as the caller sees them."""
    posts = [p for p in budget.posts(principal, pcn_code=pcn.code) if p.leave_date is None or p.leave_date >= today]
    ids = [p.id for p in posts]
    planned = repository.posts_with_job_plans(session, ids)
    kpis = repository.kpis_of_posts(session, ids, status=ACTIVE)
    kpi_ids = [k.id for k in kpis if k.id is not None]
    targets, values = repository.targets(session, kpi_ids), repository.measurements(session, kpi_ids)
    results = {k.id: _evaluate(k, targets[k.id], values[k.id], today) for k in kpis if k.id is not None}
    at_risk: list[AtRiskPost] = []
    for post in sorted(posts, key=lambda p: p.id):
        reasons = _reasons(post, post.id in planned, [k for k in kpis if k.post_id == post.id], results)
        if reasons:
            at_risk.append(
                AtRiskPost(
                    post_id=post.id,
                    display_name=post.display_name,
                    role_code=post.role_code,
                    start_date=post.start_date,
                    leave_date=post.leave_date,
                    reasons=reasons,
                )
            )
    return at_risk, len(posts)
