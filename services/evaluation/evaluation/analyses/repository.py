"""Every query of the analyses. The aggregation runs in the database: what comes back to Python is one
row per practice and window (a few thousand rows for a national comparison group), never the weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, Float, case, cast, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement
from sqlmodel import col

from evaluation.workload.models import ListSize, Workload

BEFORE, AFTER = "before", "after"


class month_start(FunctionElement[date]):  # a SQL function's name, lower case
    """The first day of the month of a date column, on either database."""

    type = Date()
    inherit_cache = True


@compiles(month_start, "postgresql")
def _month_start_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@dataclass(frozen=True, slots=True)
class Windows:
    before_first: date
    before_last: date
    start_week: date
    after_first: date
    after_last: date


@dataclass(frozen=True, slots=True)
class PracticeRates:
    practice_code: str
    weeks_before: int
    weeks_after: int
    mean_before: float | None
    mean_after: float | None


def _window(windows: Windows) -> Any:
    return case((col(Workload.period_start) < windows.start_week, literal(BEFORE)), else_=literal(AFTER))


def _weekly_gp(practices: Sequence[str], first: date, last: date, *, skip_week: date | None = None) -> Any:
    """Per practice and week from ``first`` to ``last``: its GP attended appointments (a subquery)."""
    where = [
        col(Workload.grain) == "week",
        col(Workload.hcp_role) == "gp",
        col(Workload.status) == "attended",
        col(Workload.practice_code).in_(list(practices)),
        col(Workload.period_start).between(first, last),
    ]
    if skip_week is not None:
        where.append(col(Workload.period_start) != skip_week)
    return (
        select(
            col(Workload.practice_code).label("practice_code"),
            col(Workload.period_start).label("week"),
            func.sum(Workload.appointments).label("gp"),
        )
        .where(*where)
        .group_by(col(Workload.practice_code), col(Workload.period_start))
        .subquery()
    )


def _with_list_size(stmt: Any, weekly: Any, practices: Sequence[str], first: date, last: date) -> Any:
    """``stmt`` joined to each week's list size (of the month its Monday falls in; none or 0: no rate)."""
    return stmt.join(
        ListSize,
        (col(ListSize.practice_code) == weekly.c.practice_code) & (col(ListSize.month) == month_start(weekly.c.week)),
    ).where(
        col(ListSize.registered_patients) > 0,
        # The same practices and months as the weeks: without these the planner hashes every list
        # size of the nation (187,590 rows for the demo data set, 75% of the statement's time).
        col(ListSize.practice_code).in_(list(practices)),
        col(ListSize.month).between(first.replace(day=1), last),
    )


def _rates_of(practices: Sequence[str], found: dict[str, dict[str, tuple[int, float]]]) -> list[PracticeRates]:
    out = []
    for practice in practices:
        got = found.get(practice, {})
        before, after = got.get(BEFORE, (0, None)), got.get(AFTER, (0, None))
        out.append(PracticeRates(practice, before[0], after[0], before[1], after[1]))
    return out


def practice_rates(session: Session, practices: Sequence[str], windows: Windows) -> list[PracticeRates]:
    """Per practice and window: how many weeks have both GP attended appointments and a list size,
    and the mean weekly rate per 1,000 registered patients over them (the start week excluded)."""
    if not practices:
        return []
    weekly = _weekly_gp(practices, windows.before_first, windows.after_last, skip_week=windows.start_week)
    window = case((weekly.c.week < windows.start_week, literal(BEFORE)), else_=literal(AFTER)).label("window")
    rate = weekly.c.gp * 1000.0 / ListSize.registered_patients
    stmt = _with_list_size(
        select(weekly.c.practice_code, window, func.count().label("weeks"), func.avg(rate).label("mean_rate")),
        weekly,
        practices,
        windows.before_first,
        windows.after_last,
    ).group_by(weekly.c.practice_code, window)
    found: dict[str, dict[str, tuple[int, float]]] = {}
    for practice, which, weeks, mean in session.execute(stmt):
        found.setdefault(practice, {})[which] = (int(weeks), float(mean))
    return _rates_of(practices, found)


def practice_rates_many(
    session: Session, practices: Sequence[str], windows: Sequence[Windows]
) -> list[list[PracticeRates]]:
    """:func:`practice_rates` for several windows at once (a PCN's roles, each from its own start), in
    one statement: each practice's weekly rate is computed once over the span of every window, then
    each window averages its own weeks of it (a derived table of windows joined to the rates), so
    Python still sees one row per window, practice and side of the start week. (Summing the records
    per window instead reads a week once for every window it falls in: three times slower on the
    national demo data.)"""
    if len(windows) == 1:
        return [practice_rates(session, practices, windows[0])]
    if not practices or not windows:
        return [[] for _ in windows]
    first, last = min(w.before_first for w in windows), max(w.after_last for w in windows)
    spans = union_all(
        *(
            select(
                literal(index).label("k"),
                literal(w.before_first, Date()).label("before_first"),
                literal(w.start_week, Date()).label("start_week"),
                literal(w.after_last, Date()).label("after_last"),
            )
            for index, w in enumerate(windows)
        )
    ).subquery("spans")
    weekly = _weekly_gp(practices, first, last)
    rate = (cast(weekly.c.gp, Float) * 1000.0 / ListSize.registered_patients).label("rate")
    rates = _with_list_size(select(weekly.c.practice_code, weekly.c.week, rate), weekly, practices, first, last)
    rates = rates.subquery()
    window = case((rates.c.week < spans.c.start_week, literal(BEFORE)), else_=literal(AFTER)).label("window")
    stmt = (
        select(spans.c.k, rates.c.practice_code, window, func.count().label("weeks"), func.avg(rates.c.rate))
        .select_from(spans)
        .join(
            rates,
            (rates.c.week >= spans.c.before_first)
            & (rates.c.week <= spans.c.after_last)
            & (rates.c.week != spans.c.start_week),
        )
        .group_by(spans.c.k, rates.c.practice_code, window)
    )
    found: dict[int, dict[str, dict[str, tuple[int, float]]]] = {}
    for k, practice, which, weeks, mean in session.execute(stmt):
        found.setdefault(int(k), {}).setdefault(practice, {})[which] = (int(weeks), float(mean))
    return [_rates_of(practices, found.get(index, {})) for index in range(len(windows))]


@dataclass(frozen=True, slots=True)
class Mix:
    gp_before: int
    all_before: int
    gp_after: int
    all_after: int
    role_after: int


def appointment_mix(session: Session, practices: Sequence[str], windows: Windows, role_code: str) -> Mix:
    """Attended appointments at ``practices`` in each window: by GPs, by everyone, and (after) by the role."""
    if not practices:
        return Mix(0, 0, 0, 0, 0)
    window = _window(windows).label("window")
    gp = func.sum(case((col(Workload.hcp_role) == "gp", Workload.appointments), else_=0))
    role = func.sum(case((col(Workload.hcp_role) == role_code, Workload.appointments), else_=0))
    stmt = (
        select(window, gp, func.sum(Workload.appointments), role)
        .where(
            col(Workload.grain) == "week",
            col(Workload.status) == "attended",
            col(Workload.practice_code).in_(list(practices)),
            col(Workload.period_start).between(windows.before_first, windows.after_last),
            col(Workload.period_start) != windows.start_week,
        )
        .group_by(window)
    )
    totals = {which: (int(g or 0), int(a or 0), int(r or 0)) for which, g, a, r in session.execute(stmt)}
    before, after = totals.get(BEFORE, (0, 0, 0)), totals.get(AFTER, (0, 0, 0))
    return Mix(before[0], before[1], after[0], after[1], after[2])


def role_appointments_by_month(
    session: Session, practices: Sequence[str], roles: Sequence[str], first: date, last: date
) -> dict[tuple[str, date], int]:
    """Attended appointments by each role at ``practices``, per month (a week counts in the month its
    Monday falls in), from weekly records."""
    if not practices or not roles:
        return {}
    month = month_start(col(Workload.period_start))
    stmt = (
        select(col(Workload.hcp_role), month, func.sum(Workload.appointments))
        .where(
            col(Workload.grain) == "week",
            col(Workload.status) == "attended",
            col(Workload.hcp_role).in_(list(roles)),
            col(Workload.practice_code).in_(list(practices)),
            col(Workload.period_start).between(first, last),
        )
        .group_by(col(Workload.hcp_role), month)
    )
    return {(role, _as_date(when)): int(total) for role, when, total in session.execute(stmt)}


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
