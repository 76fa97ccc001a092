"""Seed the catalogue from the packaged reference data (idempotent).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from roles.seed import SEED_PRINCIPAL, apply_seed

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The tables as revision 0001 made them: the seed writes through these, never through today's models.
_TS = sa.DateTime(timezone=True)
TABLES = {
    "role": sa.table(
        "role",
        *(sa.column(c) for c in ("code", "name", "afc_band", "staff_group", "registration", "description")),
        sa.column("added_on", sa.Date),
        sa.column("retired_on", sa.Date),
        sa.column("supplier_fee_monthly_max_pence", sa.BigInteger),
        sa.column("version", sa.Integer),
        sa.column("created_at", _TS),
        sa.column("updated_at", _TS),
    ),
    "rate_period": sa.table(
        "rate_period",
        *(sa.column(c) for c in ("role_code", "geography", "provenance", "source", "basis", "note", "created_by")),
        sa.column("effective_from", sa.Date),
        sa.column("annual_max_pence", sa.BigInteger),
        sa.column("created_at", _TS),
    ),
    "funding_share": sa.table(
        "funding_share",
        *(sa.column(c) for c in ("role_code", "rule", "source", "created_by")),
        sa.column("effective_from", sa.Date),
        sa.column("share_bp", sa.Integer),
        sa.column("max_share_bp", sa.Integer),
        sa.column("created_at", _TS),
    ),
    "role_cap": sa.table(
        "role_cap",
        *(sa.column(c) for c in ("role_code", "fy", "unit", "source", "updated_by")),
        *(
            sa.column(c, sa.Integer)
            for c in ("max_below_threshold", "max_at_or_above_threshold", "list_size_threshold")
        ),
        sa.column("updated_at", _TS),
    ),
    "supervision": sa.table(
        "supervision_requirement",
        *(sa.column(c) for c in ("role_code", "frequency", "requirement", "source", "updated_by")),
        sa.column("supervisor_roles", sa.JSON),
        sa.column("updated_at", _TS),
    ),
    "template": sa.table(
        "job_plan_template",
        *(sa.column(c) for c in ("role_code", "purpose", "updated_by")),
        sa.column("responsibilities", sa.JSON),
        sa.column("suggested_kpis", sa.JSON),
        sa.column("sessions_per_week_hint", sa.Integer),
        sa.column("updated_at", _TS),
    ),
}


def upgrade() -> None:
    apply_seed(op.get_bind(), TABLES)


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
