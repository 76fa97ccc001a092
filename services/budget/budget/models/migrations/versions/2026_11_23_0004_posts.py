"""Posts: one person in one role in one PCN (domain §6).

Hours are integer hundredths of an hour (exact); the non-reimbursable monthly costs whole pence;
CHECKs hold the enumerations, the hours range, the leave date and the funding share.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:30:47.655489
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("role_code", sa.String(length=64), nullable=False),
        sa.Column("afc_band", sa.String(length=32), nullable=False),
        sa.Column("geography", sa.String(length=16), nullable=False),
        sa.Column("hours_per_week_centi", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("leave_date", sa.Date(), nullable=True),
        sa.Column("employment_model", sa.String(length=32), nullable=False),
        sa.Column("employer_code", sa.String(length=9), nullable=False),
        sa.Column("practice_codes", sa.JSON(), nullable=False),
        sa.Column("supervisor_name", sa.String(length=200), nullable=False),
        sa.Column("supervisor_role", sa.String(length=200), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.Column("funding_share", sa.String(length=3), nullable=True),
        sa.Column("staff_reference", sa.String(length=200), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("cost_management_fee_pence", sa.BigInteger(), nullable=False),
        sa.Column("cost_vat_pence", sa.BigInteger(), nullable=False),
        sa.Column("cost_supervision_pence", sa.BigInteger(), nullable=False),
        sa.Column("cost_training_pence", sa.BigInteger(), nullable=False),
        sa.Column("cost_estates_pence", sa.BigInteger(), nullable=False),
        sa.Column("cost_other_pence", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "employment_model IN ('pcn_lead_practice', 'member_practice', 'nhs_trust', 'federation', 'local_authority', 'voluntary_sector', 'supplier')",
            name="ck_post_employment_model",
        ),
        sa.CheckConstraint("funding_share IS NULL OR funding_share IN ('0.5', '1.0')", name="ck_post_funding_share"),
        sa.CheckConstraint(
            "geography IN ('national', 'outer_london', 'inner_london', 'london')", name="ck_post_geography"
        ),
        sa.CheckConstraint(
            "cost_management_fee_pence >= 0 AND cost_vat_pence >= 0 AND cost_supervision_pence >= 0 AND cost_training_pence >= 0 AND cost_estates_pence >= 0 AND cost_other_pence >= 0",
            name="ck_post_costs_nonnegative",
        ),
        sa.CheckConstraint("hours_per_week_centi > 0 AND hours_per_week_centi <= 4800", name="ck_post_hours"),
        sa.CheckConstraint("leave_date IS NULL OR leave_date >= start_date", name="ck_post_leave_date"),
        sa.ForeignKeyConstraint(
            ["pcn_code"],
            ["pcn.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_post_pcn_code", "post", ["pcn_code", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_post_pcn_code", table_name="post")
    op.drop_table("post")
