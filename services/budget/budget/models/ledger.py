"""Funding rates, budgets and the double-entry ledger (domain §3, §5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
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
from budget.models.base import BudgetBase, by, one_of

POTS = ("arrs", "arrs_gp")
"""A PCN's budget for a financial year is a set of pots; a claim draws on exactly one."""

ACCOUNTS = ("funding", "available", "held", "approved", "paid", "lapsed")
"""The accounts of one pot of one PCN in one FY. ``funding`` is the source every allocation comes
from (its balance is minus what has been allocated); each other account holds what its name says."""


class FundingRate(BudgetBase, table=True):
    """The rates per weighted patient of a financial year, exact: integer tenths of a penny
    (£22.894 is 22894), never a float."""

    __tablename__ = "funding_rate"
    __table_args__ = (
        CheckConstraint("length(fy) = 7", name="ck_funding_rate_fy"),
        CheckConstraint("arrs_rate_tenth_pence > 0", name="ck_funding_rate_arrs_positive"),
        CheckConstraint(
            "arrs_gp_rate_tenth_pence IS NULL OR arrs_gp_rate_tenth_pence > 0", name="ck_funding_rate_gp_positive"
        ),
    )

    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    arrs_rate_tenth_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    arrs_gp_rate_tenth_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    source: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=by())


class BudgetBalance(BudgetBase, table=True):
    """The balances of one pot, maintained in the transaction of every posting that touches it, so
    reads are O(1). The CHECKs make a negative balance, or an ``available`` that disagrees with the
    others, impossible whatever code path writes; the ledger verification recomputes them all from
    the postings. Writers lock this row (``FOR UPDATE``) before posting to the pot."""

    __tablename__ = "budget_balance"
    __table_args__ = (
        CheckConstraint(one_of("pot", POTS), name="ck_budget_balance_pot"),
        CheckConstraint(
            "allocated_pence >= 0 AND held_pence >= 0 AND approved_pence >= 0 AND paid_pence >= 0 "
            "AND lapsed_pence >= 0 AND available_pence >= 0",
            name="ck_budget_balance_nonnegative",
        ),
        CheckConstraint(
            "available_pence = allocated_pence - held_pence - approved_pence - paid_pence - lapsed_pence",
            name="ck_budget_balance_available",
        ),
    )

    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), primary_key=True))
    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    pot: str = Field(sa_column=Column(String(16), primary_key=True))
    allocated_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    held_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    approved_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    paid_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    lapsed_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    available_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class Posting(BudgetBase, table=True):
    """One movement of a positive amount within one pot: it leaves ``debit_account`` and enters
    ``credit_account`` (domain §5). Append-only: a database trigger refuses UPDATE and DELETE; a
    correction is a reversing posting."""

    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="ck_posting_amount_positive"),
        CheckConstraint(one_of("pot", POTS), name="ck_posting_pot"),
        CheckConstraint(one_of("debit_account", ACCOUNTS), name="ck_posting_debit_account"),
        CheckConstraint(one_of("credit_account", ACCOUNTS), name="ck_posting_credit_account"),
        CheckConstraint("debit_account <> credit_account", name="ck_posting_two_accounts"),
        # A posting belongs to a pot whose balance row exists (and is updated with it).
        ForeignKeyConstraint(
            ["pcn_code", "fy", "pot"],
            ["budget_balance.pcn_code", "budget_balance.fy", "budget_balance.pot"],
            name="fk_posting_balance",
        ),
        Index("ix_posting_pcn_fy", "pcn_code", "fy", "id"),
        Index("ix_posting_pcn_id", "pcn_code", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), nullable=False))
    fy: str = Field(sa_column=Column(String(7), nullable=False))
    pot: str = Field(sa_column=Column(String(16), nullable=False))
    debit_account: str = Field(sa_column=Column(String(16), nullable=False))
    credit_account: str = Field(sa_column=Column(String(16), nullable=False))
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=by())


class YearClose(BudgetBase, table=True):
    """A PCN's financial year, closed: its unused money lapsed, and no claim or allocation for it is
    taken any more (domain §5). Written once, in the close's transaction."""

    __tablename__ = "year_close"

    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), primary_key=True))
    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    closed_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    closed_by: str = Field(sa_column=by())
