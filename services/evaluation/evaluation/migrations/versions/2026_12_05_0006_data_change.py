"""A change counter per kind of bulk data the analyses read (workload records and list sizes, counted as
one: ``workload``), which the analyses' cache compares (``evaluation.changes``). No row: no change yet.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_change",
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )


def downgrade() -> None:
    op.drop_table("data_change")
