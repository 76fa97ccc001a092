"""Bodies of the analyses: KPI attainment and at-risk posts."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from arrs_kit.pagination import Page
from evaluation.analyses.attainment import Attainment, Direction, RiskReason
from evaluation.periods import Frequency


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
