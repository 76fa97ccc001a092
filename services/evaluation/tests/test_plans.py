"""The service's connections plan every execution for its own parameters on PostgreSQL (``main.plan_every_execution``):
a statement prepared by the driver and run again and again keeps being planned afresh, never with a generic plan."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from evaluation.main import plan_every_execution


def test_every_connection_plans_each_execution(evaluation_app: FastAPI) -> None:
    engine = evaluation_app.state.db.engine
    if engine.dialect.name != "postgresql":
        plan_every_execution(engine)  # nothing to set on SQLite: no error, no listener
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        return
    # More connections than one, each checked out and returned, then used again after the pool's rollback.
    held = [engine.connect() for _ in range(3)]
    try:
        for conn in held:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
            conn.rollback()
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
    finally:
        for conn in held:
            conn.close()
    with engine.connect() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
