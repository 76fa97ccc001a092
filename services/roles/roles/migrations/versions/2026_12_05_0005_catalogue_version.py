"""A version stamp of the whole catalogue, moved by the database itself on every change.

Every replica of the roles service serves reads from an in-memory snapshot of the catalogue
(:mod:`roles.snapshot`); the stamp tells a replica that another one (or an operator's SQL, or a
migration) changed something. Triggers on every catalogue table move it, in the transaction of the
change, so no code path can forget to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("role", "rate_period", "funding_share", "role_cap", "supervision_requirement", "job_plan_template")
BUMP = "UPDATE catalogue_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "catalogue_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="catalogue_version_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO catalogue_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION bump_catalogue_version() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {BUMP};
                RETURN NULL;
            END $$
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_moves_catalogue_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalogue_version()"
            )
    else:
        for table in TABLES:
            for action in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_{action.lower()}_moves_catalogue_version AFTER {action} ON {table} "
                    f"BEGIN {BUMP}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_moves_catalogue_version ON {table}")
        op.execute("DROP FUNCTION bump_catalogue_version()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_{action}_moves_catalogue_version")
    op.drop_table("catalogue_version")
