"""Workforce plans (domain §6): per PCN and FY, planned WTE by role with a phase and a start month."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from budget.models.base import BudgetBase, by

PLAN_PHASES = (1, 2, 3, 4)


class WorkforcePlan(BudgetBase, table=True):
    """A PCN's workforce plan for a financial year now in force; its lines are in
    ``workforce_plan_line``. A PUT replaces the whole plan: the lines it replaces go to
    ``workforce_plan_history`` first, with who set them and who replaced them."""

    __tablename__ = "workforce_plan"
    __table_args__ = (CheckConstraint("length(fy) = 7", name="ck_workforce_plan_fy"),)

    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), primary_key=True))
    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=by())


class WorkforcePlanLine(BudgetBase, table=True):
    """One line of a plan: planned WTE of a role, exact as integer hundredths (1.50 is 150), with its
    phase (1 to 4) and intended start month. One line per role and phase."""

    __tablename__ = "workforce_plan_line"
    __table_args__ = (
        CheckConstraint("phase >= 1 AND phase <= 4", name="ck_workforce_plan_line_phase"),
        CheckConstraint(
            "planned_wte_centi > 0 AND planned_wte_centi <= 9999", name="ck_workforce_plan_line_planned_wte"
        ),
        CheckConstraint("length(start_month) = 7", name="ck_workforce_plan_line_start_month"),
        ForeignKeyConstraint(
            ["pcn_code", "fy"],
            ["workforce_plan.pcn_code", "workforce_plan.fy"],
            name="fk_workforce_plan_line_plan",
        ),
        Index("uq_workforce_plan_line_role_phase", "pcn_code", "fy", "role_code", "phase", unique=True),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), nullable=False))
    fy: str = Field(sa_column=Column(String(7), nullable=False))
    role_code: str = Field(sa_column=Column(String(64), nullable=False))
    phase: int = Field(sa_column=Column(Integer, nullable=False))
    start_month: str = Field(sa_column=Column(String(7), nullable=False))
    planned_wte_centi: int = Field(sa_column=Column(Integer, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WorkforcePlanHistory(BudgetBase, table=True):
    """Every plan a later PUT replaced: its version, its lines (as they were answered), who set it and
    who replaced it. Append-only (a database trigger refuses UPDATE and DELETE)."""

    __tablename__ = "workforce_plan_history"
    __table_args__ = (Index("ix_workforce_plan_history_pcn_fy", "pcn_code", "fy", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    fy: str = Field(sa_column=Column(String(7), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    set_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    set_by: str = Field(sa_column=by())
    replaced_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    replaced_by: str = Field(sa_column=by())
    request_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
