"""Claims (domain §6): one post for one month, and adjustments to paid claims."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from budget.domain.claim_states import AWAITING_DECISION, ENDED, ClaimKind, ClaimStatus, sql_list
from budget.models.base import BudgetBase, by, one_of
from budget.models.ledger import POTS

LIVE_CLAIM = f"kind = '{ClaimKind.CLAIM}' AND status NOT IN {sql_list(ENDED)}"
"""A claim that counts: a second one for the same post and month is a ``duplicate-claim``."""
PENDING_ADJUSTMENT = f"kind = '{ClaimKind.ADJUSTMENT}' AND status IN {sql_list(AWAITING_DECISION)}"


class Claim(BudgetBase, table=True):
    """A claim with the computation it was made with, every intermediate kept so it can be checked
    by hand later whatever happens to the post or the catalogue. ``amount_pence`` is what the claim
    moves on the ledger: the reimbursable amount, or for an adjustment the signed difference it makes
    to the paid claim it corrects. The partial unique index makes a duplicate claim impossible
    whoever races."""

    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint(one_of("status", ClaimStatus), name="ck_claim_status"),
        CheckConstraint(one_of("kind", ClaimKind), name="ck_claim_kind"),
        CheckConstraint(one_of("pot", POTS), name="ck_claim_pot"),
        CheckConstraint(
            "salary_pence >= 0 AND employer_ni_pence >= 0 AND employer_pension_pence >= 0 AND supplier_fee_pence >= 0",
            name="ck_claim_inputs_nonnegative",
        ),
        CheckConstraint("reimbursable_pence >= 0 AND cap_pence >= 0 AND actual_pence >= 0", name="ck_claim_results"),
        CheckConstraint(
            f"(kind = '{ClaimKind.CLAIM}' AND adjusts_claim_id IS NULL AND amount_pence = reimbursable_pence) OR "
            f"(kind = '{ClaimKind.ADJUSTMENT}' AND adjusts_claim_id IS NOT NULL AND amount_pence <> 0)",
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
    # The month's segments, one per set of the post's terms that meets it: days, hours, rate column and
    # rate period of each (null on a claim computed before terms were dated: the columns above say).
    segments: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    payment_reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=by())
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_by: str = Field(sa_column=by())


class ClaimEvent(BudgetBase, table=True):
    """Every transition of a claim: to which status, when, by whom and why. Append-only."""

    __tablename__ = "claim_event"
    __table_args__ = (
        CheckConstraint(one_of("status", ClaimStatus), name="ck_claim_event_status"),
        Index("ix_claim_event_claim", "claim_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    claim_id: int = Field(sa_column=Column(Integer, ForeignKey("claim.id"), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    action: str = Field(sa_column=Column(String(16), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    by: str = Field(sa_column=by())
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
