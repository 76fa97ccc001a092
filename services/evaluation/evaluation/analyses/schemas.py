"""Bodies of the analyses: KPI attainment and at-risk posts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from arrs_kit.pagination import Page
from evaluation.analyses.attainment import Attainment, Direction, RiskReason
from evaluation.periods import Frequency

ComparisonScope = TypeAliasType(
    "ComparisonScope",
    Annotated[
        Literal["icb", "national"],
        Field(
            title="ComparisonScope",
            description="Where a workload-shift estimate's comparison practices come from: the ICB, or, with too "
            "few there, the whole country.",
        ),
    ],
)
TrueCostRows = TypeAliasType(
    "TrueCostRows",
    Annotated[
        Literal["posts", "roles"],
        Field(title="TrueCostRows", description="Which rows a true cost's CSV has: per post and month, or per role."),
    ],
)


class PeriodAttainment(BaseModel):
    period_start: date
    value: str | None = Field(description="The measured value; null when the period has none (`missing`).")
    target: str = Field(description="The target in force for that period.")
    status: Attainment


class KpiAttainment(BaseModel):
    kpi_id: int
    name: str
    unit: str
    direction: Direction
    frequency: Frequency
    kpi_status: str = Field(description="`active` or `retired` (a retired KPI counts towards nothing).")
    drift: int = Field(description="Consecutive most recent periods not on track.")
    flagged: bool = Field(description="Active and drift ≥ 2.")
    overdue: bool = Field(description="Active and no measurement in either of the last two ended periods.")
    latest_status: Attainment | None
    periods: list[PeriodAttainment] = Field(
        description="Oldest first: from the KPI's first period to the last ended one."
    )


class PostAttainment(BaseModel):
    post_id: int
    pcn_code: str
    role_code: str
    as_of: date = Field(description="The day the evaluation is made for (periods ended before it are due).")
    flagged: bool = Field(description="Some active KPI has drift ≥ 2.")
    kpis: list[KpiAttainment]


class Reason(BaseModel):
    code: RiskReason
    detail: str
    kpi_ids: list[int] = Field(default_factory=list, description="The KPIs the reason is about, if any.")


class AtRiskPost(BaseModel):
    post_id: int
    display_name: str
    role_code: str
    start_date: date
    leave_date: date | None
    reasons: list[Reason] = Field(description="Every reason the post is at risk.")


class AtRiskPostPage(Page[AtRiskPost]):
    """A page of a PCN's posts at risk, by post id, each with every reason."""

    pcn_code: str
    as_of: date
    posts_evaluated: int = Field(description="Posts of the PCN in post on or after `as_of` (at risk or not).")


class Caveat(BaseModel):
    code: str
    detail: str


class ShiftWindows(BaseModel):
    before_first: date
    before_last: date
    start_week: date = Field(description="The Monday of the week the post started: excluded from both windows.")
    after_first: date
    after_last: date


class WorkloadShift(BaseModel):
    """The difference-in-differences evidence of domain.md §7, in GP attended appointments per 1,000
    registered patients per week. Without enough data, `estimate` is null and `reason` says why."""

    post_id: int | None = None
    pcn_code: str | None = None
    role_code: str
    start_date: date
    weeks: int
    as_of: date
    unit: str = "GP attended appointments per 1,000 registered patients per week"
    estimate: float | None = Field(
        None,
        description="Change at the practices served minus the change at comparison practices "
        "(negative: work left GPs).",
    )
    std_error: float | None = None
    df: float | None = Field(None, description="Welch–Satterthwaite degrees of freedom.")
    ci_low: float | None = Field(None, description="95% interval, low end.")
    ci_high: float | None = None
    reason: str | None = Field(
        None,
        description="Why there is no estimate: `after_window_not_ended`, `no_treated_data`, "
        "`too_few_comparison_practices`, `no_posts_of_role`.",
    )
    n_treated: int = 0
    n_comparison: int = 0
    comparison_scope: ComparisonScope | None = None
    before_after: float | None = Field(None, description="The uncontrolled change at the practices served.")
    comparison_change: float | None = Field(None, description="The change at the comparison practices.")
    gp_share_before: float | None = Field(
        None, description="GP share of attended appointments at the practices served."
    )
    gp_share_after: float | None = None
    role_appointments_per_wte_per_week: float | None = Field(
        None, description="The role's own attended appointments at the practices served, per WTE per week (after)."
    )
    treated_practices: list[str] = Field(default_factory=list)
    practices_left_out: list[str] = Field(default_factory=list, description="Served, but lacking a week of data.")
    windows: ShiftWindows
    caveats: list[Caveat] = Field(default_factory=list)


class PostMonthCost(BaseModel):
    post_id: int
    display_name: str
    role_code: str
    month: str = Field(description="`YYYY-MM`.")
    days_in_post: int
    reimbursed_pence: int = Field(description="Approved and paid claims of the month, adjustments included.")
    employment_cost_pence: int | None = Field(description="The claimed employment cost; null without a claim.")
    unfunded_pence: int = Field(description="Non-reimbursable costs the PCN carries, for the days in post.")
    true_cost_pence: int | None = Field(description="Employment cost plus unfunded costs.")
    gap_pence: int | None = Field(description="True cost minus reimbursed: what the PCN pays itself.")


class RoleMonthCost(BaseModel):
    role_code: str
    month: str
    posts: int
    reimbursed_pence: int
    unfunded_pence: int
    attended_appointments: int = Field(description="The role's attended appointments at the PCN's practices.")
    cost_per_appointment_pence: int | None = Field(description="(reimbursed + unfunded) ÷ attended appointments.")


class TrueCost(BaseModel):
    pcn_code: str
    fy: str
    posts: list[PostMonthCost] = Field(description="Per post and month in post, in post order.")
    roles: list[RoleMonthCost] = Field(description="Per role and month.")
    totals: dict[str, int | None] = Field(description="The year's sums: reimbursed, unfunded, true cost, gap.")


class RetentionRow(BaseModel):
    role_code: str
    posts: int = Field(description="Posts of the role in scope.")
    observed: int = Field(description="Posts that started at least 12 months before `as_of`.")
    ended_within_12_months: int
    retention_rate: float | None = Field(description="Share of observed posts still in post 12 months after starting.")
    still_in_post: int = Field(description="Posts in post on `as_of`.")


class RetentionPage(Page[RetentionRow]):
    """Retention per role."""

    scope: str = Field(description="`national`, `icb:<code>` or `pcn:<code>`.")
    as_of: date


class AttainmentSummary(BaseModel):
    active_kpis: int
    latest: dict[str, int] = Field(description="Active KPIs by the status of their latest period.")
    overdue_kpis: int
    flagged_posts: list[int] = Field(description="Posts with an active KPI not on track for 2+ periods.")


class AtRiskSummary(BaseModel):
    posts_evaluated: int
    posts_at_risk: int
    posts: list[AtRiskPost]


class ShiftSummary(BaseModel):
    role_code: str
    start_date: date
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None
    n_treated: int
    n_comparison: int
    comparison_scope: str | None


class RoleCostSummary(BaseModel):
    role_code: str
    attended_appointments: int
    cost_per_appointment_pence: int | None = Field(description="The year's (reimbursed + unfunded) ÷ appointments.")


class CostSummary(BaseModel):
    fy: str
    reimbursed_pence: int
    unfunded_pence: int
    true_cost_pence: int
    gap_pence: int
    roles: list[RoleCostSummary]


class ReadinessBrief(BaseModel):
    version: int
    in_place: int
    in_progress: int
    not_started: int
    overdue: int
    percent_in_place: str


class PcnEvaluation(BaseModel):
    """The evaluation half of a PCN's scorecard, in one answer."""

    pcn_code: str
    as_of: date
    fy: str
    kpi_attainment: AttainmentSummary
    at_risk: AtRiskSummary
    workload_shift: list[ShiftSummary] = Field(description="Per role of the PCN's posts, from its first post.")
    true_cost: CostSummary
    readiness: ReadinessBrief


class PcnEvaluationRow(BaseModel):
    pcn_code: str
    posts_evaluated: int
    posts_at_risk: int
    flagged_posts: int
    active_kpis: int
    overdue_kpis: int
    readiness_percent_in_place: str


class PcnEvaluationPage(Page[PcnEvaluationRow]):
    """A page of an ICB's PCNs, one row each, by PCN code."""

    as_of: date
