"""The evaluation half of the PCN scorecard: every analysis of one PCN, summarised, in one answer;
and one row per PCN of an ICB, in bulk."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from fractions import Fraction

from sqlalchemy.orm import Session

from arrs_kit.money import round_half_up
from arrs_kit.principal import Principal
from evaluation.analyses import costs, repository, shift
from evaluation.analyses.cache import StateCache
from evaluation.analyses.schemas import (
    AtRiskSummary,
    AttainmentSummary,
    CostSummary,
    PcnEvaluation,
    PcnEvaluationRow,
    ReadinessBrief,
    RoleCostSummary,
    ShiftSummary,
)
from evaluation.analyses.service import Assessment, assess
from evaluation.changes import repository as pcn_changes
from evaluation.clients.budget import BudgetClient, Pcn, Post, Read
from evaluation.periods import financial_year
from evaluation.readiness import repository as readiness_repository
from evaluation.readiness import service as readiness

STATUSES = ("on_track", "at_risk", "off_track", "missing")


def _attainment(found: Assessment) -> AttainmentSummary:
    return AttainmentSummary(
        active_kpis=found.active_kpis,
        latest={status: found.latest[status] for status in STATUSES},
        overdue_kpis=found.overdue_kpis,
        flagged_posts=found.flagged_posts,
    )


def _shift(
    session: Session, budget: BudgetClient, pcn: Pcn, posts: list[Post], weeks: int, today: date
) -> list[ShiftSummary]:
    """Each role's workload shift, from the start of its first post, at the practices its posts in post
    after that start serve: every role of the PCN estimated together (:func:`shift.workload_shifts`)."""
    subjects = []
    for role in sorted({p.role_code for p in posts}):
        of_role = [p for p in posts if p.role_code == role]
        start = min(p.start_date for p in of_role)
        windows = shift.windows_for(start, weeks)
        after = [p for p in of_role if shift.active(p, windows.after_first, windows.after_last)]
        treated = tuple(sorted({code for p in after for code in p.practice_codes}))
        subjects.append(shift.Subject(role, start, treated, shift.post_wte(after)))
    results = shift.workload_shifts(
        session=session, budget=budget, icb_code=pcn.icb_code, subjects=subjects, weeks=weeks, today=today
    )
    return [ShiftSummary.model_validate(result.model_dump()) for result in results]


def _costs(
    session: Session, budget: BudgetClient, principal: Principal, pcn: Pcn, posts: list[Post], fy: str
) -> CostSummary:
    first, last = financial_year(fy)
    claims = [c for status in costs.COUNTED for c in budget.claims(principal, pcn.code, status)]
    per_post = costs.post_months(posts, claims, costs.months_of(first, last))
    appointments = repository.role_appointments_by_month(
        session, pcn.practice_codes, sorted({p.role_code for p in posts}), first, last
    )
    spent: dict[str, int] = defaultdict(int)
    for row in per_post:
        spent[row.role_code] += row.reimbursed_pence + row.unfunded_pence
    attended: dict[str, int] = defaultdict(int)
    for (role, _month), count in appointments.items():
        attended[role] += count
    known = [r for r in per_post if r.true_cost_pence is not None]
    return CostSummary(
        fy=fy,
        reimbursed_pence=sum(r.reimbursed_pence for r in per_post),
        unfunded_pence=sum(r.unfunded_pence for r in per_post),
        true_cost_pence=sum(r.true_cost_pence or 0 for r in known),
        gap_pence=sum(r.gap_pence or 0 for r in known),
        roles=[
            RoleCostSummary(
                role_code=role,
                attended_appointments=attended[role],
                cost_per_appointment_pence=round_half_up(Fraction(spent[role], attended[role]))
                if attended[role]
                else None,
            )
            for role in sorted(spent)
        ],
    )


def _readiness(session: Session, pcn_code: str, today: date) -> ReadinessBrief:
    public = readiness.public(pcn_code, readiness_repository.current(session, pcn_code), today)
    return ReadinessBrief(version=public.version, **public.summary.model_dump())


def pcn_evaluation(
    *,
    session: Session,
    budget: BudgetClient,
    principal: Principal,
    pcn: Pcn,
    fy: str,
    weeks: int,
    today: date,
    cache: StateCache[tuple[tuple[Read, ...], PcnEvaluation]] | None = None,
) -> PcnEvaluation:
    """Every analysis of the PCN; with ``cache``, computed again only when what it was computed from
    changed: the PCN's evaluation data (its change counter), any workload or list-size upload (the
    ``workload`` counter: a workload shift compares the PCN's practices with the rest of its ICB), or
    any answer of the budget service the computation read (its posts, claims, the ICB's practices and
    posts), as the budget client reads it now (:mod:`evaluation.analyses.cache`)."""
    if cache is None:
        return _pcn_evaluation(session, budget, principal, pcn, fy, weeks, today)
    key = (principal.encode(), pcn, fy, weeks, today)
    counters = (
        pcn_changes.counters(session, [pcn.code]).get(pcn.code, 0),
        pcn_changes.data_counter(session, pcn_changes.WORKLOAD),
    )
    kept = cache.get(key, counters)
    if kept is not None and budget.unchanged(kept[0]):
        return kept[1]
    with budget.recording() as reads:
        value = _pcn_evaluation(session, budget, principal, pcn, fy, weeks, today)
    cache.put(key, counters, (tuple(reads), value))
    return value


def _pcn_evaluation(
    session: Session, budget: BudgetClient, principal: Principal, pcn: Pcn, fy: str, weeks: int, today: date
) -> PcnEvaluation:
    posts = budget.posts(principal, pcn_code=pcn.code)
    found = assess(session=session, posts=posts, today=today).get(pcn.code, Assessment())
    return PcnEvaluation(
        pcn_code=pcn.code,
        as_of=today,
        fy=fy,
        kpi_attainment=_attainment(found),
        at_risk=AtRiskSummary(posts_evaluated=found.evaluated, posts_at_risk=len(found.at_risk), posts=found.at_risk),
        workload_shift=_shift(session, budget, pcn, posts, weeks, today),
        true_cost=_costs(session, budget, principal, pcn, posts, fy),
        readiness=_readiness(session, pcn.code, today),
    )


def icb_rows(
    *,
    session: Session,
    budget: BudgetClient,
    principal: Principal,
    icb_code: str,
    today: date,
    cache: StateCache[list[PcnEvaluationRow]] | None = None,
) -> list[PcnEvaluationRow]:
    """One row per PCN of the ICB the caller may see; with ``cache``, computed again only when the PCNs,
    their posts or any PCN's evaluation data changed (:mod:`evaluation.analyses.cache`): the PCNs and
    posts are compared by the digests of the budget answers they were read from, not object by object."""
    with budget.recording() as reads:
        pcns = budget.pcns(principal, icb_code=icb_code)
        posts = budget.posts(principal, icb_code=icb_code)
    if cache is None:
        return _icb_rows(session, pcns, posts, today)
    key = (principal.encode(), icb_code, today)
    state = (tuple(r.digest for r in reads), pcn_changes.counters(session, [p.code for p in pcns]))
    rows = cache.get(key, state)
    if rows is None:
        rows = _icb_rows(session, pcns, posts, today)
        cache.put(key, state, rows)
    return rows


def _icb_rows(session: Session, pcns: list[Pcn], posts: list[Post], today: date) -> list[PcnEvaluationRow]:
    found = assess(session=session, posts=posts, today=today)
    latest = readiness_repository.current_of(session, [p.code for p in pcns])
    rows = []
    for pcn in sorted(pcns, key=lambda p: p.code):
        assessment = found.get(pcn.code, Assessment())
        ready = readiness.summary(latest.get(pcn.code), today)
        rows.append(
            PcnEvaluationRow(
                pcn_code=pcn.code,
                posts_evaluated=assessment.evaluated,
                posts_at_risk=len(assessment.at_risk),
                flagged_posts=len(assessment.flagged_posts),
                active_kpis=assessment.active_kpis,
                overdue_kpis=assessment.overdue_kpis,
                readiness_percent_in_place=ready.percent_in_place,
            )
        )
    return rows
