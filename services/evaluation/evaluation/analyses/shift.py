"""Workload shift around a post's start (domain.md §7): did GP appointments per 1,000 patients fall at
the practices the post serves, beyond what happened at comparable practices without such a post?

The start week ``s`` is excluded; the windows are the ``k`` weeks before it and the ``k`` weeks after.
A practice counts only with complete data: a GP attended count and a list size for every week of
both windows (the list size of the month the week starts in). Comparison practices are those of the
same ICB with no post of the role active at any time in either window, and complete data; with
fewer than :data:`~evaluation.analyses.did.MIN_COMPARISON` of them in the ICB, the nation's are used
instead (and the answer says so). The weekly counts are summed and averaged in the database; Python
sees one row per practice and window, and numpy/scipy do the statistics
(:mod:`evaluation.analyses.did`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy.orm import Session

from evaluation.analyses import repository
from evaluation.analyses.did import MIN_COMPARISON, Estimate, difference_in_differences
from evaluation.analyses.repository import Mix, PracticeRates, Windows
from evaluation.analyses.schemas import Caveat, ShiftWindows, WorkloadShift
from evaluation.clients.budget import BudgetClient, Post
from evaluation.periods import Frequency, period_of

WTE_HOURS = Decimal("37.5")
GPAD_CAVEAT = Caveat(
    code="experimental_data",
    detail="Appointments data (GPAD) are experimental statistics: recording differs between practices and "
    "systems, and a change in how appointments are recorded looks like a change in workload.",
)


def windows_for(start: date, weeks: int) -> Windows:
    start_week = period_of(start, Frequency.WEEKLY)
    step = timedelta(days=7)
    return Windows(
        before_first=start_week - weeks * step,
        before_last=start_week - step,
        start_week=start_week,
        after_first=start_week + step,
        after_last=start_week + weeks * step,
    )


def _public(windows: Windows) -> ShiftWindows:
    """The windows as days: each runs from its first Monday to its last Sunday."""
    return ShiftWindows(
        before_first=windows.before_first,
        before_last=windows.before_last + timedelta(days=6),
        start_week=windows.start_week,
        after_first=windows.after_first,
        after_last=windows.after_last + timedelta(days=6),
    )


def active(post: Post, first: date, last: date) -> bool:
    return post.start_date <= last and (post.leave_date is None or post.leave_date >= first)


def _complete(rates: Iterable[PracticeRates], weeks: int) -> dict[str, float]:
    """Δ (after − before) of each practice with every week of both windows."""
    return {
        r.practice_code: r.mean_after - r.mean_before
        for r in rates
        if r.weeks_before == weeks and r.weeks_after == weeks and r.mean_before is not None and r.mean_after is not None
    }


def _served(posts: Iterable[Post], role_code: str, windows: Windows) -> set[str]:
    """The practices a post of the role served at any time in either window (never comparators)."""
    last_day = windows.after_last + timedelta(days=6)
    return {
        code
        for post in posts
        if post.role_code == role_code and active(post, windows.before_first, last_day)
        for code in post.practice_codes
    }


def _comparison(
    session: Session,
    budget: BudgetClient,
    role_code: str,
    icb_code: str | None,
    treated: set[str],
    windows: Windows,
    weeks: int,
) -> dict[str, float]:
    served = _served(budget.role_posts(role_code, icb_code), role_code, windows)
    candidates = sorted(set(budget.practices(icb_code)) - served - treated)
    return _complete(repository.practice_rates(session, candidates, windows), weeks)


@dataclass(frozen=True, slots=True)
class Subject:
    """One workload shift to estimate: posts of ``role_code`` that started on ``start`` serving
    ``treated`` practices (``wte`` in all)."""

    role_code: str
    start: date
    treated: tuple[str, ...]
    wte: Decimal


def workload_shift(
    *,
    session: Session,
    budget: BudgetClient,
    role_code: str,
    icb_code: str,
    start: date,
    treated: Sequence[str],
    wte: Decimal,
    weeks: int,
    today: date,
) -> WorkloadShift:
    """The evidence for posts of ``role_code`` that started on ``start`` serving ``treated`` practices
    (``wte`` in all), compared with the ICB's (or the nation's) practices without such a post."""
    subject = Subject(role_code, start, tuple(sorted(set(treated))), wte)
    return workload_shifts(
        session=session, budget=budget, icb_code=icb_code, subjects=[subject], weeks=weeks, today=today
    )[0]


def workload_shifts(
    *,
    session: Session,
    budget: BudgetClient,
    icb_code: str,
    subjects: Sequence[Subject],
    weeks: int,
    today: date,
) -> list[WorkloadShift]:
    """:func:`workload_shift` for several subjects of one ICB (a PCN's roles): the served practices and
    every ICB comparison group come from one read of the ICB's practices and posts, and the weekly rates
    of every practice concerned, for every subject's windows, from one statement."""
    answers: list[WorkloadShift] = []
    ended: list[int] = []
    for index, subject in enumerate(subjects):
        windows = windows_for(subject.start, weeks)
        answers.append(
            WorkloadShift(
                role_code=subject.role_code,
                start_date=subject.start,
                weeks=weeks,
                as_of=today,
                windows=_public(windows),
                treated_practices=list(subject.treated),
                caveats=[GPAD_CAVEAT],
            )
        )
        if windows.after_last + timedelta(days=7) > today:
            answers[index] = answers[index].model_copy(update={"reason": "after_window_not_ended"})
        else:
            ended.append(index)
    if not ended:
        return answers
    practices = set(budget.practices(icb_code))
    # One role: its posts only; several (a scorecard): every post of the ICB, in one read.
    roles = {subjects[i].role_code for i in ended}
    posts = budget.role_posts(roles.pop(), icb_code) if len(roles) == 1 else budget.icb_posts(icb_code)
    windows_of = [windows_for(subjects[i].start, weeks) for i in ended]
    candidates = [
        practices - _served(posts, subjects[i].role_code, w) - set(subjects[i].treated)
        for i, w in zip(ended, windows_of, strict=True)
    ]
    everyone = sorted(set().union(*candidates, *(subjects[i].treated for i in ended)))
    rates = repository.practice_rates_many(session, everyone, windows_of)
    for i, w, pool, found in zip(ended, windows_of, candidates, rates, strict=True):
        subject = subjects[i]
        treated_set = set(subject.treated)
        treated_deltas = _complete((r for r in found if r.practice_code in treated_set), weeks)
        comparison = _complete((r for r in found if r.practice_code in pool), weeks)
        scope: Literal["icb", "national"] = "icb"
        if len(comparison) < MIN_COMPARISON:
            comparison = _comparison(session, budget, subject.role_code, None, treated_set, w, weeks)
            scope = "national"
        mix = repository.appointment_mix(session, subject.treated, w, subject.role_code)
        answers[i] = _evidence(answers[i], subject, treated_deltas, comparison, scope, mix, weeks)
    return answers


def _evidence(
    answer: WorkloadShift,
    subject: Subject,
    treated_deltas: dict[str, float],
    comparison: dict[str, float],
    scope: Literal["icb", "national"],
    mix: Mix,
    weeks: int,
) -> WorkloadShift:
    """The answer completed with the estimate (or why there is none) and its caveats."""
    caveats = [GPAD_CAVEAT]
    left_out = sorted(set(subject.treated) - set(treated_deltas))
    if left_out:
        caveats.append(
            Caveat(
                code="treated_practices_left_out",
                detail=f"{len(left_out)} practice(s) served lack a week of data and are left out.",
            )
        )
    if scope == "national":
        caveats.append(
            Caveat(
                code="national_comparison",
                detail=f"Fewer than {MIN_COMPARISON} comparable practices in the ICB: "
                "compared with practices nationally.",
            )
        )
    result = difference_in_differences(list(treated_deltas.values()), list(comparison.values()))
    wte = subject.wte
    update: dict[str, object] = {
        "comparison_scope": scope,
        "practices_left_out": left_out,
        "n_treated": len(treated_deltas),
        "n_comparison": len(comparison),
        "gp_share_before": _share(mix.gp_before, mix.all_before),
        "gp_share_after": _share(mix.gp_after, mix.all_after),
        "role_appointments_per_wte_per_week": _round(mix.role_after / float(wte) / weeks) if wte > 0 else None,
        "caveats": caveats,
    }
    if isinstance(result, Estimate):
        if result.single_treated:
            caveats.append(
                Caveat(
                    code="single_treated_practice",
                    detail="One practice served: its variance is taken to be the comparison practices'.",
                )
            )
        update |= {
            "estimate": _round(result.estimate),
            "std_error": _round(result.std_error),
            "df": _round(result.df),
            "ci_low": _round(result.ci_low),
            "ci_high": _round(result.ci_high),
            "before_after": _round(result.mean_change_treated),
            "comparison_change": _round(result.mean_change_comparison),
        }
    else:
        update |= {
            "reason": result.reason.value,
            "before_after": _round(sum(treated_deltas.values()) / len(treated_deltas)) if treated_deltas else None,
        }
    return answer.model_copy(update=update)


def no_posts(*, pcn_code: str, role_code: str, weeks: int, today: date) -> WorkloadShift:
    """The answer for a role the PCN has no post of: nothing to evaluate, and why."""
    windows = windows_for(today, weeks)
    return WorkloadShift(
        pcn_code=pcn_code,
        role_code=role_code,
        start_date=today,
        weeks=weeks,
        as_of=today,
        reason="no_posts_of_role",
        windows=_public(windows),
    )


def post_wte(posts: Iterable[Post]) -> Decimal:
    return sum((Decimal(p.hours_per_week) / WTE_HOURS for p in posts), Decimal(0))


def _share(part: int, whole: int) -> float | None:
    return _round(part / whole) if whole else None


def _round(value: float) -> float:
    return round(value, 4)
