"""The year close, recorded: after it, claims and allocations for the FY are refused (domain §5).

A PCN's years already closed (a ``lapse`` posting) are recorded as closed when their last lapse was
posted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "year_close",
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["pcn_code"], ["pcn.code"]),
        sa.PrimaryKeyConstraint("pcn_code", "fy"),
    )
    op.execute(
        "INSERT INTO year_close (pcn_code, fy, closed_at, closed_by) "
        "SELECT pcn_code, fy, MAX(created_at), 'migration' FROM posting WHERE kind = 'lapse' GROUP BY pcn_code, fy"
    )


def downgrade() -> None:
    op.drop_table("year_close")
