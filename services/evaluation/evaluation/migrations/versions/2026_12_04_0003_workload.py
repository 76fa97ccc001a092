"""Workload counts and list sizes posted by practice systems, and the uploads that set them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 15:31:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from arrs_kit.db import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GP_ATTENDED_WEEKS = "grain = 'week' AND hcp_role = 'gp' AND status = 'attended'"


def upgrade() -> None:
    op.create_table(
        "workload",
        sa.Column("practice_code", sa.String(length=6), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("hcp_role", sa.String(length=64), nullable=False),
        sa.Column("national_category", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("appointments", sa.BigInteger(), nullable=False),
        sa.Column("minutes", sa.BigInteger(), nullable=True),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("grain IN ('week', 'month')", name="ck_workload_grain"),
        sa.CheckConstraint("appointments >= 0", name="ck_workload_appointments"),
        sa.CheckConstraint("minutes IS NULL OR minutes >= 0", name="ck_workload_minutes"),
        sa.PrimaryKeyConstraint(
            "practice_code", "grain", "period_start", "hcp_role", "national_category", "mode", "status"
        ),
    )
    op.create_index(
        "ix_workload_gp_attended_week",
        "workload",
        ["practice_code", "period_start"],
        unique=False,
        postgresql_include=["appointments"],
        postgresql_where=sa.text(GP_ATTENDED_WEEKS),
        sqlite_where=sa.text(GP_ATTENDED_WEEKS),
    )
    op.create_table(
        "list_size",
        sa.Column("practice_code", sa.String(length=6), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("registered_patients", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("registered_patients >= 0", name="ck_list_size_patients"),
        sa.PrimaryKeyConstraint("practice_code", "month"),
    )
    op.create_table(
        "workload_upload",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("replaced", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint("kind IN ('workload', 'list_size')", name="ck_workload_upload_kind"),
        sa.CheckConstraint("format IN ('json', 'ndjson', 'csv', 'gpad_csv')", name="ck_workload_upload_format"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("workload_upload")
    op.drop_table("list_size")
    op.drop_index("ix_workload_gp_attended_week", table_name="workload")
    op.drop_table("workload")
