"""Seed the catalogue from the packaged reference data (idempotent).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:40:00
"""

from collections.abc import Sequence

from alembic import op

from roles.seed import SEED_PRINCIPAL, apply_seed

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    apply_seed(op.get_bind())


def downgrade() -> None:
    # Removes what the seed wrote and keeps what admins added. Rate periods are append-only by
    # trigger, so their seeded rows go with the schema downgrade (0001) instead.
    for table, column in (
        ("job_plan_template", "updated_by"),
        ("supervision_requirement", "updated_by"),
        ("role_cap", "updated_by"),
        ("funding_share", "created_by"),
    ):
        op.execute(f"DELETE FROM {table} WHERE {column} = '{SEED_PRINCIPAL}'")
