"""Monthly claim returns (domain §6): one per PCN and month, its lines the month's claims."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from budget.models.base import BudgetBase, by, one_of


class ReturnStatus(StrEnum):
    """``open`` (lines may still be drafted and edited) → ``submitted`` (every line held in one step;
    the ICB decides them) → ``paid`` (one payment reference for its approved lines)."""

    OPEN = "open"
    SUBMITTED = "submitted"
    PAID = "paid"


class ClaimReturn(BudgetBase, table=True):
    __tablename__ = "claim_return"
    __table_args__ = (
        CheckConstraint(one_of("status", ReturnStatus), name="ck_claim_return_status"),
        UniqueConstraint("pcn_code", "month", name="uq_claim_return_pcn_month"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    month: str = Field(sa_column=Column(String(7), nullable=False))
    fy: str = Field(sa_column=Column(String(7), nullable=False))
    payee_code: str = Field(sa_column=Column(String(9), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    declaration: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    declared_by: str | None = Field(default=None, sa_column=by(nullable=True))
    declared_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    submitted_by: str | None = Field(default=None, sa_column=by(nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    payment_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    paid_by: str | None = Field(default=None, sa_column=by(nullable=True))
    paid_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=by())
