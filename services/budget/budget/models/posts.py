"""Posts (domain §6): one person in one role in one PCN."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from budget.models.base import BudgetBase, by, one_of

GEOGRAPHIES = ("national", "outer_london", "inner_london", "london")
EMPLOYMENT_MODELS = (
    "pcn_lead_practice",
    "member_practice",
    "nhs_trust",
    "federation",
    "local_authority",
    "voluntary_sector",
    "supplier",
)
COST_FIELDS = ("management_fee", "vat", "supervision", "training", "estates", "other")


class Post(BudgetBase, table=True):
    """A post. Hours are held exactly as integer hundredths of an hour (22.5 is 2250), never a float;
    the non-reimbursable monthly costs as whole pence."""

    __tablename__ = "post"
    __table_args__ = (
        CheckConstraint(one_of("geography", GEOGRAPHIES), name="ck_post_geography"),
        CheckConstraint(one_of("employment_model", EMPLOYMENT_MODELS), name="ck_post_employment_model"),
        CheckConstraint("hours_per_week_centi > 0 AND hours_per_week_centi <= 4800", name="ck_post_hours"),
        CheckConstraint("leave_date IS NULL OR leave_date >= start_date", name="ck_post_leave_date"),
        CheckConstraint(
            "funding_share IS NULL OR funding_share = '1.0' OR funding_share LIKE '0._%'", name="ck_post_funding_share"
        ),
        CheckConstraint(" AND ".join(f"cost_{f}_pence >= 0" for f in COST_FIELDS), name="ck_post_costs_nonnegative"),
        Index("ix_post_pcn_code", "pcn_code", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    role_code: str = Field(sa_column=Column(String(64), nullable=False))
    afc_band: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))  # null: a GP
    geography: str = Field(sa_column=Column(String(16), nullable=False))
    hours_per_week_centi: int = Field(sa_column=Column(Integer, nullable=False))
    start_date: date = Field(sa_column=Column(Date, nullable=False))
    leave_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    employment_model: str = Field(sa_column=Column(String(32), nullable=False))
    employer_code: str = Field(sa_column=Column(String(9), nullable=False))
    practice_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    supervisor_name: str = Field(sa_column=Column(String(200), nullable=False))
    supervisor_role: str = Field(sa_column=Column(String(200), nullable=False))
    baseline: bool = Field(sa_column=Column(Boolean, nullable=False))
    funding_share: str | None = Field(default=None, sa_column=Column(String(6), nullable=True))
    staff_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    cost_management_fee_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_vat_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_supervision_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_training_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_estates_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_other_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=by())


class PostTerms(BudgetBase, table=True):
    """A set of a post's terms from ``effective_from`` until the next set (domain §6): a change of
    hours, band, geography, employment or practices is a new row, never an edit, so a backdated claim
    is computed on the terms that were in force. The post row shows its latest set. Append-only."""

    __tablename__ = "post_terms"
    __table_args__ = (
        CheckConstraint(one_of("geography", GEOGRAPHIES), name="ck_post_terms_geography"),
        CheckConstraint(one_of("employment_model", EMPLOYMENT_MODELS), name="ck_post_terms_employment_model"),
        CheckConstraint("hours_per_week_centi > 0 AND hours_per_week_centi <= 4800", name="ck_post_terms_hours"),
        UniqueConstraint("post_id", "effective_from", name="uq_post_terms_post_day"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    post_id: int = Field(sa_column=Column(Integer, ForeignKey("post.id"), nullable=False))
    effective_from: date = Field(sa_column=Column(Date, nullable=False))
    hours_per_week_centi: int = Field(sa_column=Column(Integer, nullable=False))
    afc_band: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    geography: str = Field(sa_column=Column(String(16), nullable=False))
    employment_model: str = Field(sa_column=Column(String(32), nullable=False))
    employer_code: str = Field(sa_column=Column(String(9), nullable=False))
    practice_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=by())
