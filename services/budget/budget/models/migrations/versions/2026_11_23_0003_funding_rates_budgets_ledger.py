"""Funding rates (seeded from the reference data), pot balances, the append-only ledger of postings,
and idempotency keys.

Rates are integer tenths of a penny per weighted patient. A posting moves a positive amount between
two accounts of one pot and is never updated or deleted (trigger); each pot's balance row carries
CHECKs so no balance can go negative.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:47:08.861378
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

from arrs_kit.migration_ops import drop_append_only, forbid_updates_and_deletes

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED_PRINCIPAL = "seed"

# The table as this revision makes it: the seed writes through this, never through today's models.
FUNDING_RATE = sa.table(
    "funding_rate",
    sa.column("fy", sa.String),
    sa.column("arrs_rate_tenth_pence", sa.BigInteger),
    sa.column("arrs_gp_rate_tenth_pence", sa.BigInteger),
    sa.column("source", sa.Text),
    sa.column("version", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by", sa.String),
)


def _tenth_pence(pounds: str | None) -> int | None:
    if pounds is None:
        return None
    scaled = Decimal(pounds) * 1000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"reference rate {pounds} has more than three decimals")
    return int(scaled)


def seed_funding_rates() -> None:
    """Insert every reference rate whose FY is absent (idempotent); rates not yet known are left out."""
    reference = json.loads((resources.files("budget.seed") / "funding-rates.json").read_text(encoding="utf-8"))
    bind = op.get_bind()
    present = set(bind.execute(sa.select(FUNDING_RATE.c.fy)).scalars())
    now = datetime.now(UTC)
    rows = [
        {
            "fy": rate["fy"],
            "arrs_rate_tenth_pence": _tenth_pence(rate["arrs_per_weighted_patient"]),
            "arrs_gp_rate_tenth_pence": _tenth_pence(rate["arrs_gp_per_weighted_patient"]),
            "source": rate.get("source"),
            "version": 1,
            "updated_at": now,
            "updated_by": SEED_PRINCIPAL,
        }
        for rate in reference["rates"]
        if rate["arrs_per_weighted_patient"] is not None and rate["fy"] not in present
    ]
    if rows:
        op.bulk_insert(FUNDING_RATE, rows)


def upgrade() -> None:
    op.create_table(
        "funding_rate",
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("arrs_rate_tenth_pence", sa.BigInteger(), nullable=False),
        sa.Column("arrs_gp_rate_tenth_pence", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "arrs_gp_rate_tenth_pence IS NULL OR arrs_gp_rate_tenth_pence > 0", name="ck_funding_rate_gp_positive"
        ),
        sa.CheckConstraint("arrs_rate_tenth_pence > 0", name="ck_funding_rate_arrs_positive"),
        sa.CheckConstraint("length(fy) = 7", name="ck_funding_rate_fy"),
        sa.PrimaryKeyConstraint("fy"),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "budget_balance",
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("pot", sa.String(length=16), nullable=False),
        sa.Column("allocated_pence", sa.BigInteger(), nullable=False),
        sa.Column("held_pence", sa.BigInteger(), nullable=False),
        sa.Column("approved_pence", sa.BigInteger(), nullable=False),
        sa.Column("paid_pence", sa.BigInteger(), nullable=False),
        sa.Column("lapsed_pence", sa.BigInteger(), nullable=False),
        sa.Column("available_pence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("pot IN ('arrs', 'arrs_gp')", name="ck_budget_balance_pot"),
        sa.CheckConstraint(
            "allocated_pence >= 0 AND held_pence >= 0 AND approved_pence >= 0 AND paid_pence >= 0 "
            "AND lapsed_pence >= 0 AND available_pence >= 0",
            name="ck_budget_balance_nonnegative",
        ),
        sa.CheckConstraint(
            "available_pence = allocated_pence - held_pence - approved_pence - paid_pence - lapsed_pence",
            name="ck_budget_balance_available",
        ),
        sa.ForeignKeyConstraint(["pcn_code"], ["pcn.code"]),
        sa.PrimaryKeyConstraint("pcn_code", "fy", "pot"),
    )
    op.create_table(
        "posting",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("pot", sa.String(length=16), nullable=False),
        sa.Column("debit_account", sa.String(length=16), nullable=False),
        sa.Column("credit_account", sa.String(length=16), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "credit_account IN ('funding', 'available', 'held', 'approved', 'paid', 'lapsed')",
            name="ck_posting_credit_account",
        ),
        sa.CheckConstraint(
            "debit_account IN ('funding', 'available', 'held', 'approved', 'paid', 'lapsed')",
            name="ck_posting_debit_account",
        ),
        sa.CheckConstraint("pot IN ('arrs', 'arrs_gp')", name="ck_posting_pot"),
        sa.CheckConstraint("amount_pence > 0", name="ck_posting_amount_positive"),
        sa.CheckConstraint("debit_account <> credit_account", name="ck_posting_two_accounts"),
        sa.ForeignKeyConstraint(
            ["pcn_code", "fy", "pot"],
            ["budget_balance.pcn_code", "budget_balance.fy", "budget_balance.pot"],
            name="fk_posting_balance",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_posting_pcn_fy", "posting", ["pcn_code", "fy", "id"], unique=False)
    op.create_index("ix_posting_pcn_id", "posting", ["pcn_code", "id"], unique=False)
    forbid_updates_and_deletes("posting", "posting rows are append-only: correct with a reversing posting")
    seed_funding_rates()


def downgrade() -> None:
    drop_append_only("posting")
    op.drop_index("ix_posting_pcn_id", table_name="posting")
    op.drop_index("ix_posting_pcn_fy", table_name="posting")
    op.drop_table("posting")
    op.drop_table("budget_balance")
    op.drop_table("idempotency_key")
    op.drop_table("funding_rate")
