"""Retention (domain.md §7): posts that ended within 12 months of starting, per role, with no I/O.

Only posts that started at least 12 months before the day of evaluation can show whether they lasted
12 months (``observed``); a post that started since is counted in ``posts`` but in no rate.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date

from evaluation.analyses.schemas import RetentionRow
from evaluation.clients.budget import Post


def twelve_months_after(start: date) -> date:
    year = start.year + 1
    return date(year, start.month, min(start.day, calendar.monthrange(year, start.month)[1]))


def retention(posts: list[Post], today: date) -> list[RetentionRow]:
    by_role: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        by_role[post.role_code].append(post)
    rows = []
    for role, group in sorted(by_role.items()):
        observed = [p for p in group if twelve_months_after(p.start_date) <= today]
        ended = [p for p in observed if p.leave_date is not None and p.leave_date < twelve_months_after(p.start_date)]
        in_post = [p for p in group if p.start_date <= today and (p.leave_date is None or p.leave_date >= today)]
        rows.append(
            RetentionRow(
                role_code=role,
                posts=len(group),
                observed=len(observed),
                ended_within_12_months=len(ended),
                retention_rate=round(1 - len(ended) / len(observed), 4) if observed else None,
                still_in_post=len(in_post),
            )
        )
    return rows
