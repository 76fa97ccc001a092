"""Claims and their history (domain §6).

A claim keeps its whole computation. A partial unique index allows one live claim per post and month
(a duplicate is impossible whoever races) and one pending adjustment per paid claim; claim events are
append-only, like postings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:43:37.926865
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

from arrs_kit.db import UtcDateTime
from arrs_kit.migration_ops import drop_append_only, forbid_updates_and_deletes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("adjusts_claim_id", sa.Integer(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("role_code", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("pot", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("salary_pence", sa.BigInteger(), nullable=False),
        sa.Column("employer_ni_pence", sa.BigInteger(), nullable=False),
        sa.Column("employer_pension_pence", sa.BigInteger(), nullable=False),
        sa.Column("supplier_fee_pence", sa.BigInteger(), nullable=False),
        sa.Column("days_in_post", sa.Integer(), nullable=False),
        sa.Column("days_in_month", sa.Integer(), nullable=False),
        sa.Column("hours_per_week_centi", sa.Integer(), nullable=False),
        sa.Column("wte", sa.String(length=32), nullable=False),
        sa.Column("cap_pence", sa.BigInteger(), nullable=False),
        sa.Column("fee_allowed_pence", sa.BigInteger(), nullable=False),
        sa.Column("actual_pence", sa.BigInteger(), nullable=False),
        sa.Column("funding_share", sa.String(length=8), nullable=False),
        sa.Column("reimbursable_pence", sa.BigInteger(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("rate_period_id", sa.Integer(), nullable=False),
        sa.Column("rate_geography", sa.String(length=16), nullable=False),
        sa.Column("rate_effective_from", sa.Date(), nullable=False),
        sa.Column("rate_annual_max_pence", sa.BigInteger(), nullable=False),
        sa.Column("rate_provenance", sa.String(length=16), nullable=False),
        sa.Column("rate_source", sa.Text(), nullable=False),
        sa.Column("payment_reference", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "(kind = 'claim' AND adjusts_claim_id IS NULL AND amount_pence = reimbursable_pence) OR (kind = 'adjustment' AND adjusts_claim_id IS NOT NULL AND amount_pence <> 0)",
            name="ck_claim_kind_amount",
        ),
        sa.CheckConstraint("kind IN ('claim', 'adjustment')", name="ck_claim_kind"),
        sa.CheckConstraint("pot IN ('arrs', 'arrs_gp')", name="ck_claim_pot"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected', 'paid', 'withdrawn')", name="ck_claim_status"
        ),
        sa.CheckConstraint("days_in_post >= 0 AND days_in_post <= days_in_month", name="ck_claim_days"),
        sa.CheckConstraint("reimbursable_pence >= 0 AND cap_pence >= 0 AND actual_pence >= 0", name="ck_claim_results"),
        sa.CheckConstraint(
            "salary_pence >= 0 AND employer_ni_pence >= 0 AND employer_pension_pence >= 0 AND supplier_fee_pence >= 0",
            name="ck_claim_inputs_nonnegative",
        ),
        sa.ForeignKeyConstraint(
            ["adjusts_claim_id"],
            ["claim.id"],
        ),
        sa.ForeignKeyConstraint(
            ["pcn_code"],
            ["pcn.code"],
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["post.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.create_index("ix_claim_pcn_fy", ["pcn_code", "fy", "pot"], unique=False)
        batch_op.create_index("ix_claim_pcn_month", ["pcn_code", "month", "id"], unique=False)
        batch_op.create_index("ix_claim_post", ["post_id", "month"], unique=False)
        batch_op.create_index(
            "uq_claim_live_post_month",
            ["post_id", "month"],
            unique=True,
            sqlite_where=sa.text("kind = 'claim' AND status NOT IN ('rejected', 'withdrawn')"),
            postgresql_where=sa.text("kind = 'claim' AND status NOT IN ('rejected', 'withdrawn')"),
        )
        batch_op.create_index(
            "uq_claim_pending_adjustment",
            ["adjusts_claim_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'adjustment' AND status IN ('submitted', 'approved')"),
            postgresql_where=sa.text("kind = 'adjustment' AND status IN ('submitted', 'approved')"),
        )

    op.create_table(
        "claim_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected', 'paid', 'withdrawn')",
            name="ck_claim_event_status",
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claim.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claim_event", schema=None) as batch_op:
        batch_op.create_index("ix_claim_event_claim", ["claim_id", "id"], unique=False)

    forbid_updates_and_deletes("claim_event", "claim events are append-only: the history of a claim is never rewritten")


def downgrade() -> None:
    drop_append_only("claim_event")
    with op.batch_alter_table("claim_event", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_event_claim")

    op.drop_table("claim_event")
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_claim_pending_adjustment",
            sqlite_where=sa.text("kind = 'adjustment' AND status IN ('submitted', 'approved')"),
            postgresql_where=sa.text("kind = 'adjustment' AND status IN ('submitted', 'approved')"),
        )
        batch_op.drop_index(
            "uq_claim_live_post_month",
            sqlite_where=sa.text("kind = 'claim' AND status NOT IN ('rejected', 'withdrawn')"),
            postgresql_where=sa.text("kind = 'claim' AND status NOT IN ('rejected', 'withdrawn')"),
        )
        batch_op.drop_index("ix_claim_post")
        batch_op.drop_index("ix_claim_pcn_month")
        batch_op.drop_index("ix_claim_pcn_fy")

    op.drop_table("claim")
