"""A change counter per PCN over its job plans, KPIs, targets, measurements and readiness, which the
analyses' cache compares (``evaluation.changes``). Existing PCNs start with none (counter 0).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pcn_change",
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("pcn_code"),
    )


def downgrade() -> None:
    op.drop_table("pcn_change")
