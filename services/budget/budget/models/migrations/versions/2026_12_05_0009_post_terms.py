"""Dated post terms (domain §6), and the segments of a claim month computed over more than one set.

Every existing post gets one set of terms, from its start date, holding its hours, band, geography,
employment model, employer and practices as they stand: nothing is lost, and a claim already made
keeps the computation it recorded (its hours and rate period are on the claim).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from arrs_kit.migration_ops import drop_append_only, forbid_updates_and_deletes

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_terms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("hours_per_week_centi", sa.Integer(), nullable=False),
        sa.Column("afc_band", sa.String(length=32), nullable=True),
        sa.Column("geography", sa.String(length=16), nullable=False),
        sa.Column("employment_model", sa.String(length=32), nullable=False),
        sa.Column("employer_code", sa.String(length=9), nullable=False),
        sa.Column("practice_codes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "employment_model IN ('pcn_lead_practice', 'member_practice', 'nhs_trust', 'federation', "
            "'local_authority', 'voluntary_sector', 'supplier')",
            name="ck_post_terms_employment_model",
        ),
        sa.CheckConstraint(
            "geography IN ('national', 'outer_london', 'inner_london', 'london')", name="ck_post_terms_geography"
        ),
        sa.CheckConstraint("hours_per_week_centi > 0 AND hours_per_week_centi <= 4800", name="ck_post_terms_hours"),
        sa.ForeignKeyConstraint(["post_id"], ["post.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "effective_from", name="uq_post_terms_post_day"),
    )
    op.execute(
        "INSERT INTO post_terms (post_id, effective_from, hours_per_week_centi, afc_band, geography, "
        "employment_model, employer_code, practice_codes, reason, created_at, created_by) "
        "SELECT id, start_date, hours_per_week_centi, afc_band, geography, employment_model, employer_code, "
        "practice_codes, 'the post''s terms when terms became dated', created_at, created_by FROM post"
    )
    forbid_updates_and_deletes("post_terms", "post terms are never edited: add a new set with its effective_from")
    op.add_column("claim", sa.Column("segments", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("claim", "segments")
    drop_append_only("post_terms")
    op.drop_table("post_terms")
