"""Pooled PostgreSQL connections are pinged only after sitting idle (arrs_kit.db._ping_when_idle)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from arrs_kit.db import make_engine
from arrs_kit.testing import _admin_engine, postgres_server_url, require_postgres

pytestmark = pytest.mark.postgres


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use() -> None:
    require_postgres()
    engine = make_engine(postgres_server_url(), pool_size=1, max_overflow=0, ping_after_idle_s=0)
    try:
        dropped = _pid(engine)
        _terminate(dropped)
        # Idle for longer than 0 s: pinged at checkout, found dead, replaced; the statement never sees it.
        assert _pid(engine) != dropped
    finally:
        engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged() -> None:
    require_postgres()
    engine = make_engine(postgres_server_url(), pool_size=1, max_overflow=0, ping_after_idle_s=3600)
    try:
        dropped = _pid(engine)
        _terminate(dropped)
        # No ping: the dead connection is handed out, and its first statement finds the disconnect ...
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        # ... after which the pool has replaced it.
        assert _pid(engine) != dropped
    finally:
        engine.dispose()
