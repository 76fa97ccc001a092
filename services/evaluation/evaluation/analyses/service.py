"""KPI attainment of a post and the at-risk posts of a PCN (rules: :mod:`evaluation.analyses.attainment`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from evaluation.jobplans.models import Kpi
from evaluation.periods import Frequency

ACTIVE = "active"


def _evaluate(
    kpi: Kpi, targets: Sequence[tuple[date, Decimal]], values: Mapping[date, Decimal], today: date
) -> KpiResult:
    return evaluate_kpi(
        frequency=Frequency(kpi.frequency),
        direction=Direction(kpi.direction),
        created_on=kpi.created_at.date(),
        targets=targets,
        values=values,
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
    targets, values = repository.target_values(session, ids), repository.measurement_values(session, ids)
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


@dataclass
class Assessment:
    """What the analyses say about a PCN's posts in post (or not yet started) on a day."""

    evaluated: int = 0
    at_risk: list[AtRiskPost] = field(default_factory=list)
    active_kpis: int = 0
    latest: Counter[str] = field(default_factory=Counter)  # latest status of each active KPI
    flagged_posts: list[int] = field(default_factory=list)
    overdue_kpis: int = 0


def assess(*, session: Session, posts: Sequence[Post], today: date) -> dict[str, Assessment]:
    """Every PCN's :class:`Assessment`, from its posts (any number of PCNs: the queries are in bulk)."""
    current = [p for p in posts if p.leave_date is None or p.leave_date >= today]
    ids = [p.id for p in current]
    planned = repository.posts_with_job_plans(session, ids)
    kpis = repository.kpis_of_posts(session, ids, status=ACTIVE)
    kpi_ids = [k.id for k in kpis if k.id is not None]
    targets, values = repository.target_values(session, kpi_ids), repository.measurement_values(session, kpi_ids)
    results = {k.id: _evaluate(k, targets[k.id], values[k.id], today) for k in kpis if k.id is not None}
    by_post: dict[int, list[Kpi]] = {}
    for kpi in kpis:
        by_post.setdefault(kpi.post_id, []).append(kpi)
    out: dict[str, Assessment] = {}
    for post in sorted(current, key=lambda p: p.id):
        found = out.setdefault(post.pcn_code, Assessment())
        found.evaluated += 1
        own = by_post.get(post.id, [])
        for kpi in own:
            assert kpi.id is not None
            result = results[kpi.id]
            found.active_kpis += 1
            found.overdue_kpis += result.overdue
            if result.latest is not None:
                found.latest[result.latest.status.value] += 1
        if any(k.id is not None and results[k.id].flagged for k in own):
            found.flagged_posts.append(post.id)
        reasons = _reasons(post, post.id in planned, own, results)
        if reasons:
            found.at_risk.append(
                AtRiskPost(
                    post_id=post.id,
                    display_name=post.display_name,
                    role_code=post.role_code,
                    start_date=post.start_date,
                    leave_date=post.leave_date,
                    reasons=reasons,
                )
            )
    return out


def at_risk_posts(
    *, session: Session, budget: BudgetClient, principal: Principal, pcn: Pcn, today: date
) -> tuple[list[AtRiskPost], int]:
    """The PCN's posts still in post on ``today`` (or not yet started) with every reason each is at
    risk, and how many posts were evaluated. Posts come from the budget service, as the caller sees them."""
    found = assess(session=session, posts=budget.posts(principal, pcn_code=pcn.code), today=today)
    assessment = found.get(pcn.code, Assessment())
    return assessment.at_risk, assessment.evaluated
