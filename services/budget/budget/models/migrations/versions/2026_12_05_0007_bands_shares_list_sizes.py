"""Posts without an AfC band (the ARRS GP), agreed MHP shares, and list sizes by financial year.

- ``post.afc_band`` may be null: no AfC band applies to a GP (domain §6).
- ``post.funding_share`` holds the share a PCN and an MHP's provider agreed, up to 4 decimals
  (``0.7``), not only 0.5 or 1.0 (domain §4).
- ``weighted_population.list_size`` (and its history): the registered list size for the FY, on which
  the FY's role caps are judged (domain §4); null where none was recorded for that year.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 06:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SHARE = "funding_share IS NULL OR funding_share IN ('0.5', '1.0')"
NEW_SHARE = "funding_share IS NULL OR funding_share = '1.0' OR funding_share LIKE '0._%'"


def upgrade() -> None:
    with op.batch_alter_table("post", recreate="auto") as batch:
        batch.alter_column("afc_band", existing_type=sa.String(length=32), nullable=True)
        batch.drop_constraint("ck_post_funding_share", type_="check")
        batch.alter_column("funding_share", existing_type=sa.String(length=3), type_=sa.String(length=6))
        batch.create_check_constraint("ck_post_funding_share", NEW_SHARE)
    with op.batch_alter_table("weighted_population") as batch:
        batch.add_column(sa.Column("list_size", sa.Integer(), nullable=True))
        batch.create_check_constraint("ck_weighted_population_list_size", "list_size IS NULL OR list_size >= 0")
    # A plain ADD COLUMN: rebuilding the history table would drop its append-only triggers.
    op.add_column("weighted_population_history", sa.Column("list_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    # A PostgreSQL constraint is dropped by name; SQLite rebuilds the table without it.
    with op.batch_alter_table("weighted_population") as batch:
        batch.drop_constraint("ck_weighted_population_list_size", type_="check")
        batch.drop_column("list_size")
    op.drop_column("weighted_population_history", "list_size")
    with op.batch_alter_table("post", recreate="auto") as batch:
        batch.drop_constraint("ck_post_funding_share", type_="check")
        batch.alter_column("funding_share", existing_type=sa.String(length=6), type_=sa.String(length=3))
        batch.alter_column("afc_band", existing_type=sa.String(length=32), nullable=False)
        batch.create_check_constraint("ck_post_funding_share", OLD_SHARE)
