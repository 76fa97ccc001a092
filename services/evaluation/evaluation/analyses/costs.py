"""True cost per post and month, and cost per attended appointment per role (domain.md §7).

For each month of the financial year a post is in post:

- ``reimbursed_pence``: the approved and paid claims of that post and month, adjustments included
  (read from the budget service as the caller sees them);
- ``employment_cost_pence``: the employment cost the PCN claimed for (salary, NI, pension, fee: the
  claim's ``actual_pence``), where there is an approved or paid claim; null where there is none;
- ``unfunded_pence``: the post's non-reimbursable monthly costs (management fee, VAT, supervision,
  training, estates, other), in proportion to the days in post that month, rounded half up;
- ``true_cost_pence`` = employment cost + unfunded (null without a claim: the employment cost is
  unknown), and ``gap_pence`` = true cost − reimbursed: what the PCN carries itself.

Per role and month, ``cost_per_appointment_pence`` = (reimbursed + unfunded) ÷ the role's attended
appointments at the PCN's practices, rounded half up (null without appointments).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date
from fractions import Fraction

from arrs_kit.money import round_half_up
from evaluation.analyses.schemas import PostMonthCost, RoleMonthCost
from evaluation.clients.budget import ClaimLine, Post

COUNTED = ("approved", "paid")


def months_of(first: date, last: date) -> list[date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


def days_in_post(post: Post, month: date) -> int:
    last = date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])
    start = max(post.start_date, month)
    end = min(post.leave_date or last, last)
    return max(0, (end - start).days + 1)


def post_months(posts: list[Post], claims: list[ClaimLine], months: list[date]) -> list[PostMonthCost]:
    reimbursed: dict[tuple[int, str], int] = defaultdict(int)
    employment: dict[tuple[int, str], int] = {}
    for claim in claims:
        if claim.status not in COUNTED:
            continue
        key = (claim.post_id, claim.month)
        reimbursed[key] += claim.amount_pence
        if claim.kind == "claim":
            employment[key] = claim.actual_pence
    rows = []
    for post in sorted(posts, key=lambda p: p.id):
        for month in months:
            days = days_in_post(post, month)
            if days == 0:
                continue
            key = (post.id, month.strftime("%Y-%m"))
            in_month = calendar.monthrange(month.year, month.month)[1]
            unfunded = round_half_up(Fraction(post.unfunded_monthly_pence * days, in_month))
            cost = employment.get(key)
            true_cost = None if cost is None else cost + unfunded
            rows.append(
                PostMonthCost(
                    post_id=post.id,
                    display_name=post.display_name,
                    role_code=post.role_code,
                    month=key[1],
                    days_in_post=days,
                    reimbursed_pence=reimbursed.get(key, 0),
                    employment_cost_pence=cost,
                    unfunded_pence=unfunded,
                    true_cost_pence=true_cost,
                    gap_pence=None if true_cost is None else true_cost - reimbursed.get(key, 0),
                )
            )
    return rows


def role_months(rows: list[PostMonthCost], appointments: dict[tuple[str, date], int]) -> list[RoleMonthCost]:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        total = totals[(row.role_code, row.month)]
        total[0] += row.reimbursed_pence
        total[1] += row.unfunded_pence
        total[2] += 1
    out = []
    for (role, month), (reimbursed, unfunded, posts) in sorted(totals.items()):
        attended = appointments.get((role, date.fromisoformat(month + "-01")), 0)
        out.append(
            RoleMonthCost(
                role_code=role,
                month=month,
                posts=posts,
                reimbursed_pence=reimbursed,
                unfunded_pence=unfunded,
                attended_appointments=attended,
                cost_per_appointment_pence=round_half_up(Fraction(reimbursed + unfunded, attended))
                if attended
                else None,
            )
        )
    return out
