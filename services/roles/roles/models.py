"""Tables of the role catalogue. Rate periods are append-only: a correction supersedes, never edits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from arrs_kit.db import UtcDateTime
from arrs_kit.idempotency import idempotency_table
from roles.rules import GEOGRAPHIES

PROVENANCES = ("published", "estimated")
STAFF_GROUPS = ("clinical", "clinical_support", "personalised_care", "non_clinical")
SUPERVISION_FREQUENCIES = ("weekly", "monthly", "quarterly", "as_agreed")
CAP_UNITS = ("posts", "wte")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class RolesBase(SQLModel, registry=registry()):
    """Own metadata registry: the roles service's tables and nobody else's."""


metadata = RolesBase.metadata
idempotency_keys = idempotency_table(metadata)

catalogue_version = Table(
    "catalogue_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="catalogue_version_one_row"),
)
"""One row: a stamp every change of a catalogue table moves (database triggers, migration 0005)."""


def _ts() -> Any:
    return Column(UtcDateTime, nullable=False)


class Role(RolesBase, table=True):
    __tablename__ = "role"
    __table_args__ = (
        CheckConstraint(_in("staff_group", STAFF_GROUPS), name="ck_role_staff_group"),
        CheckConstraint("retired_on IS NULL OR retired_on >= added_on", name="ck_role_retired_after_added"),
        CheckConstraint(
            "supplier_fee_monthly_max_pence IS NULL OR supplier_fee_monthly_max_pence >= 0",
            name="ck_role_supplier_fee_nonnegative",
        ),
    )

    code: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    afc_band: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    staff_group: str = Field(sa_column=Column(String(32), nullable=False))
    registration: str | None = Field(default=None, sa_column=Column(String(120), nullable=True))
    added_on: date
    retired_on: date | None = None
    description: str = Field(sa_column=Column(Text, nullable=False))
    supplier_fee_monthly_max_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class RatePeriod(RolesBase, table=True):
    __tablename__ = "rate_period"
    __table_args__ = (
        CheckConstraint(_in("geography", GEOGRAPHIES), name="ck_rate_period_geography"),
        CheckConstraint(_in("provenance", PROVENANCES), name="ck_rate_period_provenance"),
        CheckConstraint("annual_max_pence > 0", name="ck_rate_period_amount_positive"),
        Index("ix_rate_period_lookup", "role_code", "geography", "effective_from"),
        Index("ix_rate_period_band_lookup", "role_code", "geography", "afc_band", "effective_from"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    role_code: str = Field(sa_column=Column(String(64), ForeignKey("role.code"), nullable=False))
    geography: str = Field(sa_column=Column(String(16), nullable=False))
    # Banded roles (MHP, AP): the AfC band is part of the key (``7``, ``8a``); null for every other role.
    afc_band: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    effective_from: date
    annual_max_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    provenance: str = Field(sa_column=Column(String(16), nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    basis: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A correction names the period it replaces; each period can be superseded once.
    supersedes_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("rate_period.id"), nullable=True, unique=True)
    )
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(sa_column=Column(String(128), nullable=False))


class FundingShare(RolesBase, table=True):
    __tablename__ = "funding_share"
    __table_args__ = (
        CheckConstraint("share_bp > 0 AND share_bp <= 10000", name="ck_funding_share_range"),
        CheckConstraint(
            "max_share_bp IS NULL OR (max_share_bp >= share_bp AND max_share_bp <= 10000)",
            name="ck_funding_share_max_range",
        ),
    )

    role_code: str = Field(sa_column=Column(String(64), ForeignKey("role.code"), primary_key=True))
    effective_from: date = Field(primary_key=True)
    # Shares are exact fractions held as basis points (7000 = 0.7), never floats.
    share_bp: int = Field(sa_column=Column(Integer, nullable=False))
    max_share_bp: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    rule: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(sa_column=Column(String(128), nullable=False))


class RoleCap(RolesBase, table=True):
    __tablename__ = "role_cap"
    __table_args__ = (
        CheckConstraint(_in("unit", CAP_UNITS), name="ck_role_cap_unit"),
        CheckConstraint("max_below_threshold >= 0 AND max_at_or_above_threshold >= 0", name="ck_role_cap_nonnegative"),
        CheckConstraint("list_size_threshold > 0", name="ck_role_cap_threshold_positive"),
    )

    role_code: str = Field(sa_column=Column(String(64), ForeignKey("role.code"), primary_key=True))
    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    unit: str = Field(sa_column=Column(String(8), nullable=False))
    max_below_threshold: int
    max_at_or_above_threshold: int
    list_size_threshold: int
    source: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(sa_column=Column(String(128), nullable=False))


class SupervisionRequirement(RolesBase, table=True):
    __tablename__ = "supervision_requirement"
    __table_args__ = (CheckConstraint(_in("frequency", SUPERVISION_FREQUENCIES), name="ck_supervision_frequency"),)

    role_code: str = Field(sa_column=Column(String(64), ForeignKey("role.code"), primary_key=True))
    supervisor_roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    frequency: str = Field(sa_column=Column(String(16), nullable=False))
    requirement: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(sa_column=Column(String(128), nullable=False))


class JobPlanTemplate(RolesBase, table=True):
    __tablename__ = "job_plan_template"

    role_code: str = Field(sa_column=Column(String(64), ForeignKey("role.code"), primary_key=True))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    responsibilities: list[str] = Field(sa_column=Column(JSON, nullable=False))
    sessions_per_week_hint: int | None = None
    suggested_kpis: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(sa_column=Column(String(128), nullable=False))
