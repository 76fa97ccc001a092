"""Property-based tests of the budget service from its OpenAPI document (schemathesis, in-process,
directly against the app on SQLite and PostgreSQL, as an admin): whatever a client sends, no server
error and no response outside the documented contract.

The register starts with an ICB and a PCN, so generated requests reach past "not found" too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth
from sqlalchemy import create_engine, text

from arrs_kit import migrate
from arrs_kit.testing import ADMIN, DatabaseFactory, signed_headers
from tests.contract.conftest import make_service

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def _seed(url: str) -> None:
    """A migrated register with ICB QHM and PCN U12345 (practice A81001) in it."""
    migrate.upgrade("budget", url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO icb (code, name, version, created_at, created_by) VALUES ('QHM', 'NENC', 1, :t, 's')"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO pcn (code, name, icb_code, list_size, version, created_at, created_by, updated_at, "
                    "updated_by) VALUES ('U12345', 'Riverside', 'QHM', 50000, 1, :t, 's', :t, 's')"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO practice_membership (practice_code, pcn_code, valid_from, opened_at, opened_by) "
                    "VALUES ('A81001', 'U12345', '2024-04-01', :t, 's')"
                ),
                {"t": now},
            )
    finally:
        engine.dispose()


@pytest.fixture
def budget_direct(database_factory: DatabaseFactory, backend: str) -> object:
    url = database_factory.create("budget_seeded", backend, _seed)
    app: FastAPI = make_service("budget", url)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    database_factory.drop(url)


direct_schema = schemathesis.pytest.from_fixture("budget_direct")


@direct_schema.parametrize()
@SETTINGS
def test_budget_service_direct(case: Any) -> None:
    # A service trusts only the gateway's signed principal, not the public API-key schemes its
    # document declares for the platform; those are exercised through the gateway.
    headers = signed_headers(ADMIN, method=case.method, path=unquote(case.formatted_path))
    case.call_and_validate(headers=headers, excluded_checks=[ignored_auth])
