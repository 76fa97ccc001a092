"""Tables of job plans, KPIs and measurements.

- ``job_plan_version``: every version of a post's job plan, append-only; the current one is the
  highest version. The answers to the six questions are one JSON document (they are read whole).
- ``kpi``: a post's KPIs, with an edit ``version`` (its ETag) and a status (``active``/``retired``).
- ``kpi_target``: the target in force from a period on; a change of target takes effect from a
  period, so the attainment of earlier periods keeps the target they were measured against.
- ``kpi_measurement``: the current value per KPI and period (a resubmission replaces it), and
  ``kpi_measurement_history`` every value ever submitted, append-only.

Values and targets are exact decimal strings (``Decimal`` in Python): a KPI is not money, but a
percentage of 72.5 must compare with a target of 72.5 exactly.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from evaluation.models import EvaluationBase


def _by() -> Any:
    return Column(String(200), nullable=False)


class JobPlanVersion(EvaluationBase, table=True):
    __tablename__ = "job_plan_version"
    __table_args__ = (
        UniqueConstraint("post_id", "version", name="uq_job_plan_version"),
        Index("ix_job_plan_version_pcn", "pcn_code", "post_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    post_id: int = Field(sa_column=Column(Integer, nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    pcn_code: str = Field(sa_column=Column(String(6), nullable=False))
    role_code: str = Field(sa_column=Column(String(64), nullable=False))
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=_by())


class Kpi(EvaluationBase, table=True):
    __tablename__ = "kpi"
    __table_args__ = (
        CheckConstraint("direction IN ('higher_is_better', 'lower_is_better')", name="ck_kpi_direction"),
        CheckConstraint("frequency IN ('weekly', 'monthly')", name="ck_kpi_frequency"),
        CheckConstraint("status IN ('active', 'retired')", name="ck_kpi_status"),
        Index("ix_kpi_post", "post_id", "id"),
        Index("ix_kpi_pcn", "pcn_code", "post_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    post_id: int = Field(sa_column=Column(Integer, nullable=False))
    pcn_code: str = Field(sa_column=Column(String(6), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    unit: str = Field(sa_column=Column(String(20), nullable=False))
    direction: str = Field(sa_column=Column(String(20), nullable=False))
    frequency: str = Field(sa_column=Column(String(10), nullable=False))
    baseline: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    measure: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    retired_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    retired_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=_by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=_by())


class KpiTarget(EvaluationBase, table=True):
    __tablename__ = "kpi_target"

    kpi_id: int = Field(sa_column=Column(Integer, ForeignKey("kpi.id"), primary_key=True))
    effective_from: date = Field(sa_column=Column(Date, primary_key=True))
    target: str = Field(sa_column=Column(String(32), nullable=False))
    set_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    set_by: str = Field(sa_column=_by())


class KpiMeasurement(EvaluationBase, table=True):
    __tablename__ = "kpi_measurement"

    kpi_id: int = Field(sa_column=Column(Integer, ForeignKey("kpi.id"), primary_key=True))
    period_start: date = Field(sa_column=Column(Date, primary_key=True))
    value: str = Field(sa_column=Column(String(32), nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    recorded_by: str = Field(sa_column=_by())


class KpiMeasurementHistory(EvaluationBase, table=True):
    __tablename__ = "kpi_measurement_history"
    __table_args__ = (Index("ix_kpi_measurement_history_kpi", "kpi_id", "period_start", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    kpi_id: int = Field(sa_column=Column(Integer, ForeignKey("kpi.id"), nullable=False))
    period_start: date = Field(sa_column=Column(Date, nullable=False))
    value: str = Field(sa_column=Column(String(32), nullable=False))
    replaced: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    recorded_by: str = Field(sa_column=_by())
    request_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
