"""Workforce plans (domain §6): per PCN and financial year, planned WTE by role, phase and start month.

The plan in force is one ``workforce_plan`` row (its version makes the ETag) with its lines; a PUT
replaces the whole plan, and the plan it replaces is kept in ``workforce_plan_history`` with who set
it and who replaced it. That history is append-only, like claim events and postings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:58:58.580098
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate may render sqlmodel types
from alembic import op

from arrs_kit.db import UtcDateTime
from arrs_kit.migration_ops import drop_append_only, forbid_updates_and_deletes

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workforce_plan",
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("length(fy) = 7", name="ck_workforce_plan_fy"),
        sa.ForeignKeyConstraint(
            ["pcn_code"],
            ["pcn.code"],
        ),
        sa.PrimaryKeyConstraint("pcn_code", "fy"),
    )

    op.create_table(
        "workforce_plan_line",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("role_code", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("start_month", sa.String(length=7), nullable=False),
        sa.Column("planned_wte_centi", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("length(start_month) = 7", name="ck_workforce_plan_line_start_month"),
        sa.CheckConstraint("phase >= 1 AND phase <= 4", name="ck_workforce_plan_line_phase"),
        sa.CheckConstraint(
            "planned_wte_centi > 0 AND planned_wte_centi <= 9999", name="ck_workforce_plan_line_planned_wte"
        ),
        sa.ForeignKeyConstraint(
            ["pcn_code", "fy"],
            ["workforce_plan.pcn_code", "workforce_plan.fy"],
            name="fk_workforce_plan_line_plan",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("workforce_plan_line", schema=None) as batch_op:
        batch_op.create_index(
            "uq_workforce_plan_line_role_phase", ["pcn_code", "fy", "role_code", "phase"], unique=True
        )

    op.create_table(
        "workforce_plan_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pcn_code", sa.String(length=6), nullable=False),
        sa.Column("fy", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("set_at", UtcDateTime(), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("replaced_at", UtcDateTime(), nullable=False),
        sa.Column("replaced_by", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["pcn_code"],
            ["pcn.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("workforce_plan_history", schema=None) as batch_op:
        batch_op.create_index("ix_workforce_plan_history_pcn_fy", ["pcn_code", "fy", "id"], unique=False)

    forbid_updates_and_deletes(
        "workforce_plan_history", "replaced workforce plans are append-only: the history of a plan is never rewritten"
    )


def downgrade() -> None:
    drop_append_only("workforce_plan_history")
    with op.batch_alter_table("workforce_plan_history", schema=None) as batch_op:
        batch_op.drop_index("ix_workforce_plan_history_pcn_fy")

    op.drop_table("workforce_plan_history")
    with op.batch_alter_table("workforce_plan_line", schema=None) as batch_op:
        batch_op.drop_index("uq_workforce_plan_line_role_phase")

    op.drop_table("workforce_plan_line")
    op.drop_table("workforce_plan")
