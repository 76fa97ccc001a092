"""Banded rate periods and the 2023-2026 reference rates (domain §4).

Adds ``afc_band`` to the rate period key (mental health and advanced practitioners are paid by AfC
band), then loads ``arrs-rates-2023-2026.json``: London rows, the 1 July 2023 and 1 October 2024
figures, 2025/26 and the banded rows. Estimates that started before their figure applied are
superseded from the right day; nothing is edited (see ``roles.seed.reference_rates``). The seeded
caps are counted in WTE, as the DES counts them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from roles.seed.reference_rates import apply_reference_rates

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this revision leaves them: the load writes through these, never through today's models.
_TS = sa.DateTime(timezone=True)
RATE_PERIOD = sa.table(
    "rate_period",
    sa.column("id", sa.Integer),
    *(
        sa.column(c)
        for c in ("role_code", "geography", "afc_band", "provenance", "source", "basis", "note", "created_by")
    ),
    sa.column("effective_from", sa.Date),
    sa.column("annual_max_pence", sa.BigInteger),
    sa.column("supersedes_id", sa.Integer),
    sa.column("created_at", _TS),
)
ROLE = sa.table("role", sa.column("code"), sa.column("afc_band"))


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild would copy the rows and drop the append-only triggers.
    op.add_column("rate_period", sa.Column("afc_band", sa.String(length=8), nullable=True))
    op.create_index(
        "ix_rate_period_band_lookup", "rate_period", ["role_code", "geography", "afc_band", "effective_from"]
    )
    apply_reference_rates(op.get_bind(), RATE_PERIOD, ROLE)
    # The DES counts a role's cap in whole-time equivalents, which a PCN may split between part-time
    # posts (domain §4): the seeded caps counted posts.
    op.execute("UPDATE role_cap SET unit = 'wte' WHERE unit = 'posts' AND updated_by = 'seed'")


def downgrade() -> None:
    # Rate periods are append-only by trigger: the loaded periods go with the schema downgrade (0001).
    op.drop_index("ix_rate_period_band_lookup", table_name="rate_period")
    with op.batch_alter_table("rate_period") as batch:
        batch.drop_column("afc_band")
