"""Property-based tests of the budget service from its OpenAPI document (schemathesis, in-process,
directly against the app on SQLite and PostgreSQL, as an admin): whatever a client sends, no server
error and no response outside the documented contract.

The register starts with an ICB, a PCN, post 1 and a funded 2024-25 pot, so generated requests reach
past "not found" too; claims read their rates from a real roles service in the same process. The
claims operations run on a database of their own, in the document's order, so the documented
examples walk claim 1 through its life: previewed, drafted (post 1, 2024-10), read, edited,
submitted, approved, paid, adjusted.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth
from sqlalchemy import create_engine, text

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory, GatewaySigner, signing_app
from budget.config import BudgetSettings
from budget.main import create_app as create_budget
from tests.contract.conftest import make_service, roles_catalogue

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


POST = {
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "22.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A81001",
    "practice_codes": ["A81001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Pharmacist",
}


def _seed(url: str) -> None:
    """A migrated register with ICB QHM and PCN U12345 (practice A81001) in it, post 1 (a clinical
    pharmacist from April 2024) and £1m in the PCN's 2024-25 `arrs` pot."""
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
    # A post's role is checked against the catalogue: a real roles service of the seed's own.
    with tempfile.TemporaryDirectory() as roles_dir:
        roles_url = f"sqlite:///{Path(roles_dir) / 'roles.db'}"
        migrate.upgrade("roles", roles_url)
        with roles_catalogue(roles_url) as catalogue:
            app = create_budget(BudgetSettings(database_url=url), configure_logs=False, catalogue=catalogue)
            with TestClient(app) as client:
                client.auth = GatewaySigner()
                response = client.post("/v1/posts", json=POST)
                assert response.status_code == 201 and response.json()["id"] == 1, response.text
                funds = {"pot": "arrs", "amount_pence": 100_000_000, "reason": "Schemathesis"}
                response = client.post("/v1/pcns/U12345/budgets/2024-25/allocations", json=funds)
                assert response.status_code == 201, response.text


@pytest.fixture
def budget_direct(database_factory: DatabaseFactory, backend: str) -> object:
    url = database_factory.create("budget_seeded", backend, _seed)
    roles_url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    with roles_catalogue(roles_url) as catalogue:
        app: FastAPI = make_service("budget", url, catalogue=catalogue)
        yield schemathesis.openapi.from_asgi("/openapi.json", signing_app(app))
    database_factory.drop(url)


direct_schema = schemathesis.pytest.from_fixture("budget_direct")


def _call(case: Any) -> None:
    # Requests are signed on the way in (signing_app), as the gateway signs them; the public API-key
    # schemes the document declares are exercised through the gateway.
    case.call_and_validate(excluded_checks=[ignored_auth])


@direct_schema.exclude(tag="claims").parametrize()
@SETTINGS
def test_budget_service_direct(case: Any) -> None:
    _call(case)


@direct_schema.include(tag="claims").parametrize()
@SETTINGS
def test_claims_direct(case: Any) -> None:
    # On a database of their own: the budget operations above close 2024-25 (its money lapses) and
    # reduce its pot, and the claims' examples are in 2024-25.
    _call(case)
