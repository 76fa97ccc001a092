"""Tables of the budget service, in its own metadata registry.

The organisation register: ICBs, PCNs, which practices belong to which PCN over time, and each PCN's
weighted population per financial year. Memberships are intervals (``valid_from`` .. ``valid_to``,
both inclusive, ``valid_to`` null while open); a move closes the open row and opens a new one, so the
history stays. Weighted populations are held exactly as integer thousandths of a patient.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from arrs_kit.db import UtcDateTime
from arrs_kit.idempotency import idempotency_table


class BudgetBase(SQLModel, registry=registry()):
    """Own metadata registry: the budget service's tables and nobody else's."""


metadata = BudgetBase.metadata
idempotency_keys = idempotency_table(metadata)

OPEN_MEMBERSHIP = "valid_to IS NULL"


def _ts(*, nullable: bool = False) -> Any:
    return Column(DateTime(timezone=True), nullable=nullable)


BY_MAX = 128
"""The length of the columns that record who made a change (``created_by``, ``set_by``, …)."""


def _by(*, nullable: bool = False) -> Any:
    return Column(String(BY_MAX), nullable=nullable)


class Icb(BudgetBase, table=True):
    __tablename__ = "icb"
    __table_args__ = (CheckConstraint("length(code) = 3 AND code = upper(code)", name="ck_icb_code"),)

    code: str = Field(sa_column=Column(String(3), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(sa_column=_by())


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
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(sa_column=_by())
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(sa_column=_by())


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
    opened_at: datetime = Field(sa_column=_ts())
    opened_by: str = Field(sa_column=_by())
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_by: str | None = Field(default=None, sa_column=_by(nullable=True))


class WeightedPopulation(BudgetBase, table=True):
    """The weighted population of a PCN for a financial year now in force (the latest one set)."""

    __tablename__ = "weighted_population"
    __table_args__ = (
        CheckConstraint("weighted_population_milli > 0", name="ck_weighted_population_positive"),
        CheckConstraint("length(fy) = 7", name="ck_weighted_population_fy"),
    )

    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), primary_key=True))
    fy: str = Field(sa_column=Column(String(7), primary_key=True))
    # Thousandths of a weighted patient: 12345.678 is stored as 12345678, exact, never a float.
    weighted_population_milli: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference_date: date = Field(sa_column=Column(Date, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    set_at: datetime = Field(sa_column=_ts())
    set_by: str = Field(sa_column=_by())


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
    set_at: datetime = Field(sa_column=_ts())
    set_by: str = Field(sa_column=_by())
    replaced_at: datetime = Field(sa_column=_ts())
    replaced_by: str = Field(sa_column=_by())


# Funding rates, budgets and the double-entry ledger (domain §3, §5).

POTS = ("arrs", "arrs_gp")
"""A PCN's budget for a financial year is a set of pots; a claim draws on exactly one."""

ACCOUNTS = ("funding", "available", "held", "approved", "paid", "lapsed")
"""The accounts of one pot of one PCN in one FY. ``funding`` is the source every allocation comes
from (its balance is minus what has been allocated); each other account holds what its name says."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


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
    updated_by: str = Field(sa_column=_by())


class BudgetBalance(BudgetBase, table=True):
    """The balances of one pot, maintained in the transaction of every posting that touches it, so
    reads are O(1). The CHECKs make a negative balance, or an ``available`` that disagrees with the
    others, impossible whatever code path writes; the ledger verification recomputes them all from
    the postings. Writers lock this row (``FOR UPDATE``) before posting to the pot."""

    __tablename__ = "budget_balance"
    __table_args__ = (
        CheckConstraint(_one_of("pot", POTS), name="ck_budget_balance_pot"),
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
        CheckConstraint(_one_of("pot", POTS), name="ck_posting_pot"),
        CheckConstraint(_one_of("debit_account", ACCOUNTS), name="ck_posting_debit_account"),
        CheckConstraint(_one_of("credit_account", ACCOUNTS), name="ck_posting_credit_account"),
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
    created_by: str = Field(sa_column=_by())


# Posts (domain §6): one person in one role in one PCN.

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
        CheckConstraint(_one_of("geography", GEOGRAPHIES), name="ck_post_geography"),
        CheckConstraint(_one_of("employment_model", EMPLOYMENT_MODELS), name="ck_post_employment_model"),
        CheckConstraint("hours_per_week_centi > 0 AND hours_per_week_centi <= 4800", name="ck_post_hours"),
        CheckConstraint("leave_date IS NULL OR leave_date >= start_date", name="ck_post_leave_date"),
        CheckConstraint("funding_share IS NULL OR funding_share IN ('0.5', '1.0')", name="ck_post_funding_share"),
        CheckConstraint(" AND ".join(f"cost_{f}_pence >= 0" for f in COST_FIELDS), name="ck_post_costs_nonnegative"),
        Index("ix_post_pcn_code", "pcn_code", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    role_code: str = Field(sa_column=Column(String(64), nullable=False))
    afc_band: str = Field(sa_column=Column(String(32), nullable=False))
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
    funding_share: str | None = Field(default=None, sa_column=Column(String(3), nullable=True))
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
    created_by: str = Field(sa_column=_by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=_by())


# Claims (domain §6): one post for one month, and adjustments to paid claims.

CLAIM_STATUSES = ("draft", "submitted", "approved", "rejected", "paid", "withdrawn")
CLAIM_KINDS = ("claim", "adjustment")
LIVE_CLAIM = "kind = 'claim' AND status NOT IN ('rejected', 'withdrawn')"
"""A claim that counts: a second one for the same post and month is a ``duplicate-claim``."""
PENDING_ADJUSTMENT = "kind = 'adjustment' AND status IN ('submitted', 'approved')"


class Claim(BudgetBase, table=True):
    """A claim with the computation it was made with, every intermediate kept so it can be checked
    by hand later whatever happens to the post or the catalogue. ``amount_pence`` is what the claim
    moves on the ledger: the reimbursable amount, or for an adjustment the signed difference it makes
    to the paid claim it corrects. The partial unique index makes a duplicate claim impossible
    whoever races."""

    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint(_one_of("status", CLAIM_STATUSES), name="ck_claim_status"),
        CheckConstraint(_one_of("kind", CLAIM_KINDS), name="ck_claim_kind"),
        CheckConstraint(_one_of("pot", POTS), name="ck_claim_pot"),
        CheckConstraint(
            "salary_pence >= 0 AND employer_ni_pence >= 0 AND employer_pension_pence >= 0 AND supplier_fee_pence >= 0",
            name="ck_claim_inputs_nonnegative",
        ),
        CheckConstraint("reimbursable_pence >= 0 AND cap_pence >= 0 AND actual_pence >= 0", name="ck_claim_results"),
        CheckConstraint(
            "(kind = 'claim' AND adjusts_claim_id IS NULL AND amount_pence = reimbursable_pence) OR "
            "(kind = 'adjustment' AND adjusts_claim_id IS NOT NULL AND amount_pence <> 0)",
            name="ck_claim_kind_amount",
        ),
        CheckConstraint("days_in_post >= 0 AND days_in_post <= days_in_month", name="ck_claim_days"),
        Index(
            "uq_claim_live_post_month",
            "post_id",
            "month",
            unique=True,
            sqlite_where=text(LIVE_CLAIM),
            postgresql_where=text(LIVE_CLAIM),
        ),
        Index(
            "uq_claim_pending_adjustment",
            "adjusts_claim_id",
            unique=True,
            sqlite_where=text(PENDING_ADJUSTMENT),
            postgresql_where=text(PENDING_ADJUSTMENT),
        ),
        Index("ix_claim_pcn_month", "pcn_code", "month", "id"),
        Index("ix_claim_pcn_fy", "pcn_code", "fy", "pot"),
        Index("ix_claim_post", "post_id", "month"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    adjusts_claim_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("claim.id"), nullable=True))
    post_id: int = Field(sa_column=Column(Integer, ForeignKey("post.id"), nullable=False))
    pcn_code: str = Field(sa_column=Column(String(6), ForeignKey("pcn.code"), nullable=False))
    role_code: str = Field(sa_column=Column(String(64), nullable=False))
    month: str = Field(sa_column=Column(String(7), nullable=False))
    fy: str = Field(sa_column=Column(String(7), nullable=False))
    pot: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    salary_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    employer_ni_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    employer_pension_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    supplier_fee_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The computation (domain §6), as it stood when the claim was last computed.
    days_in_post: int = Field(sa_column=Column(Integer, nullable=False))
    days_in_month: int = Field(sa_column=Column(Integer, nullable=False))
    hours_per_week_centi: int = Field(sa_column=Column(Integer, nullable=False))
    wte: str = Field(sa_column=Column(String(32), nullable=False))
    cap_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee_allowed_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    actual_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    funding_share: str = Field(sa_column=Column(String(8), nullable=False))
    reimbursable_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    rate_period_id: int = Field(sa_column=Column(Integer, nullable=False))
    rate_geography: str = Field(sa_column=Column(String(16), nullable=False))
    rate_effective_from: date = Field(sa_column=Column(Date, nullable=False))
    rate_annual_max_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    rate_provenance: str = Field(sa_column=Column(String(16), nullable=False))
    rate_source: str = Field(sa_column=Column(Text, nullable=False))
    payment_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=_by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=_by())


class ClaimEvent(BudgetBase, table=True):
    """Every transition of a claim: to which status, when, by whom and why. Append-only."""

    __tablename__ = "claim_event"
    __table_args__ = (
        CheckConstraint(_one_of("status", CLAIM_STATUSES), name="ck_claim_event_status"),
        Index("ix_claim_event_claim", "claim_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    claim_id: int = Field(sa_column=Column(Integer, ForeignKey("claim.id"), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    action: str = Field(sa_column=Column(String(16), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    by: str = Field(sa_column=_by())
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


# Workforce plans (domain §6): per PCN and FY, planned WTE by role with a phase and a start month.

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
    created_by: str = Field(sa_column=_by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=_by())


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
    set_by: str = Field(sa_column=_by())
    replaced_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    replaced_by: str = Field(sa_column=_by())
    request_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
