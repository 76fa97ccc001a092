"""The demo's activity, generated with no I/O from the register of :mod:`tools.demo.generate`: each
post's monthly claims, job plans and KPIs with their measurements (some on track, some drifting, some
overdue), and each PCN's operating-plan readiness. The same seed gives the same activity."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from tools.demo.generate import AS_OF, SURNAMES, Pcn, Post, RoleInfo, _rng


@dataclass(frozen=True, slots=True)
class Claim:
    key: str  # "U70012-03:2025-01"
    post: Post
    month: str
    body: dict[str, Any]
    goal: str  # the status the demo takes it to: "paid", "approved" or "submitted"


def month_days(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def claims(seed: int, post: Post, months: Sequence[str]) -> list[Claim]:
    """The post's claims for the months it was in post: the full cost of employing it (salary, employer
    NI and pension, and for a supplier's link worker the supplier's fee), pro rata for part months.
    The last month is not all paid yet: some claims are approved and unpaid, some still submitted."""
    out = []
    rng = _rng(seed, "claims", post.key)
    for month in months:
        first, last = month_days(month)
        if not post.active(first, last):
            continue
        in_post_from = max(first, post.start_date)
        in_post_to = min(last, post.leave_date) if post.leave_date else last
        fraction = ((in_post_to - in_post_from).days + 1) / ((last - first).days + 1)
        salary = round(post.salary_pounds * 100 * post.wte * fraction / 12)
        threshold = round(9_100 * 100 * fraction / 12)
        body = {
            "post_id": 0,  # the id the platform gave the post: the loader fills it in
            "month": month,
            "salary_pence": salary,
            "employer_ni_pence": max(0, round((salary - threshold) * 0.138)),
            "employer_pension_pence": round(salary * 0.1438),
        }
        if post.role_code == "social_prescribing_link_worker" and post.employment_model == "supplier":
            body["supplier_fee_pence"] = round(int(rng.integers(180, 260)) * 100 * post.wte * fraction)
        pick = rng.random()
        goal = "paid" if month != months[-1] or pick < 0.6 else ("approved" if pick < 0.85 else "submitted")
        out.append(Claim(f"{post.key}:{month}", post, month, body, goal))
    return out


# Job plans, KPIs and readiness.


@dataclass(frozen=True, slots=True)
class Kpi:
    key: str  # "U70012-03:k1"
    body: dict[str, Any]
    measurements: list[dict[str, Any]]
    pattern: str  # "on_track", "drifting" or "overdue" (as of AS_OF)


@dataclass(frozen=True, slots=True)
class Plan:
    post: Post
    job_plan: dict[str, Any]
    kpis: list[Kpi]


def _months(first: date, last: date) -> list[date]:
    out, day = [], date(first.year, first.month, 1)
    while day <= last:
        out.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def plan(seed: int, post: Post, pcn: Pcn, role: RoleInfo) -> Plan | None:
    """A job plan and KPIs for about half of the posts in post on :data:`AS_OF`; none for the rest (they
    show as at risk: no job plan). KPIs are monthly, measured from the post's first full month to the
    last month ended by :data:`AS_OF`: most on track, some drifting (the last two or three months below
    target), some overdue (nothing for the last two months)."""
    rng = _rng(seed, "plan", post.key)
    if not post.active(AS_OF, AS_OF) or post.start_date > AS_OF or rng.random() >= 0.5:
        return None
    template = role.template or {}
    suggested = [k for k in template.get("suggested_kpis", []) if k.get("frequency") == "monthly"]
    kpis = []
    first_month = date(post.start_date.year, post.start_date.month, 1)
    months = _months(first_month + timedelta(days=32), date(2025, 2, 1))
    if months and rng.random() < 0.9:
        for number, suggestion in enumerate(suggested[: int(rng.integers(1, 3))], start=1):
            kpis.append(_kpi(rng, post, number, suggestion, months))
    return Plan(post, job_plan(post, pcn, template, rng), kpis)


def job_plan(post: Post, pcn: Pcn, template: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    lead = f"Dr {chr(65 + int(rng.integers(0, 26)))} {rng.choice(SURNAMES)}"
    days = ("mon", "tue", "wed", "thu", "fri")
    sessions = [
        {
            "day": days[i % 5],
            "part": "am" if i % 2 == 0 else "pm",
            "practice_code": post.practice_codes[i % len(post.practice_codes)],
            "activity": "Clinic",
        }
        for i in range(max(1, round(float(post.hours_per_week) / 4)))
    ][:10]
    return {
        "purpose": template.get("purpose") or f"{post.role_name} for {pcn.name}.",
        "responsibilities": list(template.get("responsibilities") or ["Clinics at the practices served"])[:6],
        "practice_codes": list(post.practice_codes),
        "sessions": sessions,
        "accountable": {"name": lead, "role": "Clinical director"},
        "supporting": [{"name": f"{chr(65 + int(rng.integers(0, 26)))} {rng.choice(SURNAMES)}", "role": "PCN manager"}],
        "expected_outcomes": [k["name"] for k in template.get("suggested_kpis", [])][:5]
        or ["Appointments that would otherwise fall to GPs"],
        "measurement_frequency": "monthly",
        "measurement_method": "The practices' appointment data and the PCN's own records, monthly.",
        "supervision": {
            "supervisor": {"name": post.supervisor_name, "role": post.supervisor_role},
            "frequency": "monthly",
            "arrangement": "Monthly one-to-one supervision, with a named GP for same-day clinical queries.",
        },
    }


def _kpi(rng: np.random.Generator, post: Post, number: int, suggestion: Mapping[str, Any], months: list[date]) -> Kpi:
    unit = str(suggestion.get("unit") or "count")
    direction = str(suggestion.get("direction") or "higher_is_better")
    higher = direction == "higher_is_better"
    target = {"percent": 80.0, "days": 10.0}.get(unit, round(40 * post.wte))
    if not higher and unit == "percent":
        target = 15.0
    pick = rng.random()
    pattern = "on_track" if pick < 0.6 else ("drifting" if pick < 0.85 else "overdue")
    values = []
    for i, month in enumerate(months):
        from_end = len(months) - i  # 1 for the last month
        if pattern == "overdue" and from_end <= 2:
            continue
        good = rng.uniform(1.0, 1.2) if higher else rng.uniform(0.8, 1.0)
        bad = rng.uniform(0.6, 0.88) if higher else rng.uniform(1.12, 1.4)
        factor = bad if pattern == "drifting" and from_end <= 2 + int(rng.integers(0, 2)) else good
        values.append({"period_start": month.isoformat(), "value": f"{target * factor:.1f}"})
    body = {
        "name": str(suggestion.get("name") or f"KPI {number}")[:200],
        "unit": unit,
        "direction": direction,
        "frequency": "monthly",
        "target": f"{target:g}",
        "baseline": f"{target * (0.5 if higher else 1.5):g}",
    }
    return Kpi(f"{post.key}:k{number}", body, values, pattern)


READINESS_AREAS = (
    "supervision_and_training", "line_management", "estates", "equipment_and_it", "employment_model",
    "hr_administration", "rostering_and_mdt_working", "quality_and_governance", "financial_management",
)  # fmt: skip
READINESS_LENSES = ("workforce", "operations", "organisational", "demographic")


def readiness(seed: int, pcn: Pcn) -> dict[str, Any] | None:
    """Operating-plan readiness for about two PCNs in three: some areas in place, some in progress."""
    rng = _rng(seed, "readiness", pcn.code)
    if rng.random() >= 0.65:
        return None
    progress = rng.uniform(0.1, 0.9)
    cells = []
    for area in READINESS_AREAS:
        for lens in READINESS_LENSES:
            pick = rng.random()
            if pick < progress * 0.7:
                cells.append({"area": area, "lens": lens, "status": "in_place", "owner": "PCN manager"})
            elif pick < progress:
                due = date(2025, int(rng.integers(1, 10)), 28).isoformat()
                cells.append(
                    {"area": area, "lens": lens, "status": "in_progress", "owner": "Clinical director", "due_date": due}
                )
    return {"cells": cells}
