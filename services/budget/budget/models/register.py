"""The organisation register: ICBs, PCNs, which practices belong to which PCN over time, and each PCN's
weighted population per financial year. Memberships are intervals (``valid_from`` .. ``valid_to``,
both inclusive, ``valid_to`` null while open); a move closes the open row and opens a new one, so the
history stays. Weighted populations are held exactly as integer thousandths of a patient.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlmodel import Field

from budget.models.base import BudgetBase, by, ts

OPEN_MEMBERSHIP = "valid_to IS NULL"


class Icb(BudgetBase, table=True):
    __tablename__ = "icb"
    __table_args__ = (CheckConstraint("length(code) = 3 AND code = upper(code)", name="ck_icb_code"),)

    code: str = Field(sa_column=Column(String(3), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=ts())
    created_by: str = Field(sa_column=by())


class Pcn(BudgetBase, table=True):
    __tablename__ = "pcn"
    __table_args__ = (
        CheckConstraint("length(code) = 6 AND code = upper(code)", name="ck_pcn_code"),
        CheckConstraint("list_size >= 0", name="ck_pcn_list_size_nonnegative"),
        Index("ix_pcn_icb_code", "icb_code"),
    )

    code: str = Field(sa_column=Column(String(6), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    icb_code: str = Field(sa_column=Column(String(3), ForeignKey("icb.code"), nullable=False))
    # Registered list size (patients on the member practices' lists), as the PCN last reported it.
    list_size: int = Field(sa_column=Column(Integer, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=ts())
    created_by: str = Field(sa_column=by())
    updated_at: datetime = Field(sa_column=ts())
    updated_by: str = Field(sa_column=by())


class PracticeMembership(BudgetBase, table=True):
    __tablename__ = "practice_membership"
    __table_args__ = (
        CheckConstraint("length(practice_code) = 6 AND practice_code = upper(practice_code)", name="ck_pm_code"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_pm_valid_range"),
        # A practice is in at most one PCN at a time: one open row per practice, whoever races.
        Index(
            "uq_practice_membership_open",
            "practice_code",
            unique=True,
            sqlite_where=text(OPEN_MEMBERSHIP),
            postgresql_where=text(OPEN_MEMBERSHIP),
        ),
        Index("ix_practice_membership_practice", "practice_code", "valid_from"),
        Index("ix_practice_membership_pcn", "pcn_code", "valid_from"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    practice_code: str = Field(sa_column=Column(String(6), nullable=False))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    valid_from: date = Field(sa_column=Column(Date, nullable=False))
    valid_to: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    opened_at: datetime = Field(sa_column=ts())
    opened_by: str = Field(sa_column=by())
    closed_at: datetime | None = Field(default=None, sa_column=ts(nullable=True))
    closed_by: str | None = Field(default=None, sa_column=by(nullable=True))


class WeightedPopulation(BudgetBase, table=True):
    """The weighted population of a PCN for a financial year now in force (the latest one set)."""

    __tablename__ = "weighted_population"
    __table_args__ = (
        CheckConstraint("weighted_population_milli > 0", name="ck_weighted_population_positive"),
        CheckConstraint("length(fy) = 7", name="ck_weighted_population_fy"),
        CheckConstraint("list_size IS NULL OR list_size >= 0", name="ck_weighted_population_list_size"),
    )

    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), primary_key=True))
    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    # Thousandths of a weighted patient: 12345.678 is stored as 12345678, exact, never a float.
    weighted_population_milli: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference_date: date = Field(sa_column=Column(Date, nullable=False))
    # The registered list size for the FY, on which its role caps are judged; null: none recorded.
    list_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    set_at: datetime = Field(sa_column=ts())
    set_by: str = Field(sa_column=by())


class WeightedPopulationHistory(BudgetBase, table=True):
    """Every value a later PUT replaced, with who set it and who replaced it. Append-only."""

    __tablename__ = "weighted_population_history"
    __table_args__ = (
        CheckConstraint("weighted_population_milli > 0", name="ck_wp_history_positive"),
        Index("ix_wp_history_pcn_fy", "pcn_code", "fy", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    fy: str = Field(sa_column=Column(String(7), nullable=False))
    weighted_population_milli: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference_date: date = Field(sa_column=Column(Date, nullable=False))
    list_size: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    set_at: datetime = Field(sa_column=ts())
    set_by: str = Field(sa_column=by())
    replaced_at: datetime = Field(sa_column=ts())
    replaced_by: str = Field(sa_column=by())
