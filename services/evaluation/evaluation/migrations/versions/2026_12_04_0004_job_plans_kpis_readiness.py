"""Job plans (every version), KPIs with their targets and measurements (current and history), and
operating-plan readiness (every version). Versions and histories are append-only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from arrs_kit.db import UtcDateTime
from arrs_kit.migration_ops import drop_append_only, forbid_updates_and_deletes

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_plan_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("role_code", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "version", name="uq_job_plan_version"),
    )
    op.create_index("ix_job_plan_version_pcn", "job_plan_version", ["pcn_code", "post_id"])
    op.create_table(
        "kpi",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("baseline", sa.String(length=32), nullable=True),
        sa.Column("measure", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.Column("retired_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("direction IN ('higher_is_better', 'lower_is_better')", name="ck_kpi_direction"),
        sa.CheckConstraint("frequency IN ('weekly', 'monthly')", name="ck_kpi_frequency"),
        sa.CheckConstraint("status IN ('active', 'retired')", name="ck_kpi_status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kpi_post", "kpi", ["post_id", "id"])
    op.create_index("ix_kpi_pcn", "kpi", ["pcn_code", "post_id"])
    op.create_table(
        "kpi_target",
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("set_at", UtcDateTime(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpi.id"]),
        sa.PrimaryKeyConstraint("kpi_id", "effective_from"),
    )
    op.create_table(
        "kpi_measurement",
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpi.id"]),
        sa.PrimaryKeyConstraint("kpi_id", "period_start"),
    )
    op.create_table(
        "kpi_measurement_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("replaced", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpi.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kpi_measurement_history_kpi", "kpi_measurement_history", ["kpi_id", "period_start", "id"])
    op.create_table(
        "readiness_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pcn_code", "version", name="uq_readiness_version"),
    )
    for table, what in (
        ("job_plan_version", "job plan versions"),
        ("kpi_measurement_history", "measurement history rows"),
        ("readiness_version", "readiness versions"),
    ):
        forbid_updates_and_deletes(table, f"{what} are append-only")


def downgrade() -> None:
    for table in ("readiness_version", "kpi_measurement_history", "job_plan_version"):
        drop_append_only(table)
    op.drop_table("readiness_version")
    op.drop_index("ix_kpi_measurement_history_kpi", table_name="kpi_measurement_history")
    op.drop_table("kpi_measurement_history")
    op.drop_table("kpi_measurement")
    op.drop_table("kpi_target")
    op.drop_index("ix_kpi_pcn", table_name="kpi")
    op.drop_index("ix_kpi_post", table_name="kpi")
    op.drop_table("kpi")
    op.drop_index("ix_job_plan_version_pcn", table_name="job_plan_version")
    op.drop_table("job_plan_version")
