"""The analyses benchmark's subjects, targets and bare queries (:mod:`bench.analyses`): each analysis
beside the one SQL statement that reads the same rows, run straight against its database with psycopg
(for an ICB's scorecard list, whose rows live in two databases, one statement in each, one after the
other)."""

from __future__ import annotations

from dataclasses import dataclass

ITEMS = ("shift", "scorecard", "retention", "scorecards")
TITLES = {
    "shift": "a post's workload shift",
    "scorecard": "a PCN's scorecard",
    "retention": "an ICB's retention table",
    "scorecards": "an ICB's scorecard list",
}
TARGET_P95_MS = 300.0
TARGET_RATIO = 0.30
FOREIGN_LOAD_WARNING = 0.05

# The bare queries. ``%(…)s`` are psycopg's named parameters; arrays go as Python lists.
SHIFT_SQL = """
SELECT weekly.practice_code,
       CASE WHEN weekly.week < %(start_week)s THEN 'before' ELSE 'after' END AS time_window,
       count(*) AS weeks,
       avg(weekly.gp * 1000.0 / list_size.registered_patients) AS mean_rate
FROM (
    SELECT practice_code, period_start AS week, sum(appointments) AS gp
    FROM workload
    WHERE grain = 'week' AND hcp_role = 'gp' AND status = 'attended'
      AND practice_code = ANY(%(practices)s)
      AND period_start BETWEEN %(before_first)s AND %(after_last)s
      AND period_start <> %(start_week)s
    GROUP BY practice_code, period_start
) AS weekly
JOIN list_size ON list_size.practice_code = weekly.practice_code
              AND list_size.month = CAST(date_trunc('month', weekly.week) AS DATE)
WHERE list_size.registered_patients > 0
  AND list_size.practice_code = ANY(%(practices)s)
  AND list_size.month BETWEEN CAST(date_trunc('month', %(before_first)s::date) AS DATE) AND %(after_last)s
GROUP BY weekly.practice_code, time_window
"""
SCORECARD_SQL = """
WITH windows AS (
    SELECT * FROM unnest(%(roles)s::text[], %(before_first)s::date[], %(start_week)s::date[], %(after_last)s::date[])
        AS w(role_code, before_first, start_week, after_last)
), weekly AS (
    SELECT k.practice_code, k.period_start AS week, sum(k.appointments) AS gp
    FROM workload AS k
    WHERE k.grain = 'week' AND k.hcp_role = 'gp' AND k.status = 'attended'
      AND k.practice_code = ANY(%(practices)s)
      AND k.period_start BETWEEN (SELECT min(before_first) FROM windows) AND (SELECT max(after_last) FROM windows)
    GROUP BY k.practice_code, k.period_start
), rates AS (
    SELECT weekly.practice_code, weekly.week, weekly.gp::float8 * 1000.0 / l.registered_patients AS rate
    FROM weekly
    JOIN list_size AS l ON l.practice_code = weekly.practice_code
                       AND l.month = CAST(date_trunc('month', weekly.week) AS DATE)
    WHERE l.registered_patients > 0 AND l.practice_code = ANY(%(practices)s)
)
SELECT w.role_code, rates.practice_code,
       CASE WHEN rates.week < w.start_week THEN 'before' ELSE 'after' END AS time_window,
       count(*) AS weeks, avg(rates.rate) AS mean_rate
FROM windows AS w
JOIN rates ON rates.week BETWEEN w.before_first AND w.after_last AND rates.week <> w.start_week
GROUP BY w.role_code, rates.practice_code, time_window
"""
RETENTION_SQL = """
SELECT post.* FROM post
WHERE post.pcn_code IN (SELECT pcn.code FROM pcn WHERE pcn.icb_code = %(icb_code)s)
ORDER BY post.id
"""
SCORECARDS_BUDGET_SQL = """
SELECT pcn.code, pcn.name, pcn.icb_code, pcn.list_size, budget_balance.*
FROM pcn
LEFT JOIN budget_balance ON budget_balance.pcn_code = pcn.code AND budget_balance.fy = %(fy)s
WHERE pcn.icb_code = %(icb_code)s
ORDER BY pcn.code, budget_balance.pot
"""
SCORECARDS_SQL = """
SELECT pcn.code, plans.posts_with_plan, kpis.active_kpis, kpis.targets, kpis.measurements, kpis.latest_period,
       readiness.version, readiness.cells
FROM unnest(%(pcn_codes)s::text[]) AS pcn(code)
CROSS JOIN LATERAL (
    SELECT count(DISTINCT j.post_id) AS posts_with_plan FROM job_plan_version AS j WHERE j.pcn_code = pcn.code
) AS plans
CROSS JOIN LATERAL (
    SELECT count(*) AS active_kpis, sum(t.n) AS targets, sum(m.n) AS measurements, max(m.latest) AS latest_period
    FROM kpi AS k
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM kpi_target AS t WHERE t.kpi_id = k.id) AS t
    CROSS JOIN LATERAL (
        SELECT count(*) AS n, max(m.period_start) AS latest FROM kpi_measurement AS m WHERE m.kpi_id = k.id
    ) AS m
    WHERE k.pcn_code = pcn.code AND k.status = 'active'
) AS kpis
LEFT JOIN LATERAL (
    SELECT r.version, r.cells FROM readiness_version AS r WHERE r.pcn_code = pcn.code ORDER BY r.version DESC LIMIT 1
) AS readiness ON true
ORDER BY pcn.code
"""


@dataclass(frozen=True)
class Statement:
    database: str  # the service whose database it reads
    sql: str


@dataclass(frozen=True)
class Bare:
    statements: tuple[Statement, ...]
    what: str

    @property
    def databases(self) -> list[str]:
        return [s.database for s in self.statements]


BARE: dict[str, Bare] = {
    "shift": Bare(
        (Statement("evaluation", SHIFT_SQL),),
        "per practice and window, the mean weekly GP attended appointments per 1,000 patients over every current "
        "practice of the post's ICB (the service's `practice_rates`, once over the whole ICB instead of treated "
        "and comparison practices apart)",
    ),
    "scorecard": Bare(
        (Statement("evaluation", SCORECARD_SQL),),
        "the same aggregation for every role of the PCN whose windows have ended, each role's windows from its "
        "first post, over the ICB's practices, in one statement (each practice-week's rate once, then averaged "
        "per window)",
    ),
    "retention": Bare(
        (Statement("budget", RETENTION_SQL),), "every column of the posts of the ICB's PCNs (budget database)"
    ),
    "scorecards": Bare(
        (Statement("budget", SCORECARDS_BUDGET_SQL), Statement("evaluation", SCORECARDS_SQL)),
        "two statements, one per database, one after the other: the ICB's PCNs with every column of their "
        "budget balances for the year (budget: the list's money columns, names and list sizes); then one row "
        "per PCN: its posts with a job plan, its active KPIs with their targets and measurements (counted, "
        "latest period), its current readiness with its cells (evaluation: the rows its evaluation columns are "
        "computed from)",
    ),
}
