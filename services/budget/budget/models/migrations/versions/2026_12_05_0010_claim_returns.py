"""Monthly claim returns (domain §6): one per PCN and month, with its declaration, submission and payment.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "claim_return",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("payee_code", sa.String(length=9), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("declaration", sa.Text(), nullable=True),
        sa.Column("declared_by", sa.String(length=128), nullable=True),
        sa.Column("declared_at", _TS, nullable=True),
        sa.Column("submitted_by", sa.String(length=128), nullable=True),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("payment_reference", sa.String(length=200), nullable=True),
        sa.Column("paid_by", sa.String(length=128), nullable=True),
        sa.Column("paid_at", _TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("status IN ('open', 'submitted', 'paid')", name="ck_claim_return_status"),
        sa.ForeignKeyConstraint(["pcn_code"], ["pcn.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pcn_code", "month", name="uq_claim_return_pcn_month"),
    )


def downgrade() -> None:
    op.drop_table("claim_return")
