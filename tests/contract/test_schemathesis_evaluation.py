"""Property-based tests of the evaluation service's workload and list-size operations from its
OpenAPI document (schemathesis, in-process, directly against the app on SQLite and PostgreSQL):
whatever a client sends, in any of the three body formats, no server error and no response outside
the documented contract, as an admin and as a practice system.

Generated bodies are sent as JSON, and as text under ``text/csv`` and ``application/x-ndjson``
(their schemas are strings: mostly unreadable records, which must be a 422, never a 500). Reads ask
the budget service for a practice's scope: a real one in this process, with an empty register.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.testing import DatabaseFactory, GatewaySigner, signing_app
from tests.contract.conftest import evaluation_upstreams, make_service, roles_catalogue
from tests.contract.test_schemathesis_budget import POST

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
PRACTICE_SYSTEM = Principal(kind="practice_system", client_id="fuzz-practice", org_codes=("A81001",), name="feed")


@pytest.fixture
def evaluation_app(database_factory: DatabaseFactory, backend: str) -> Iterator[FastAPI]:
    url = database_factory.create("evaluation", backend, lambda u: migrate.upgrade("evaluation", u))
    roles_url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    budget_url = database_factory.create("budget", "sqlite", lambda u: migrate.upgrade("budget", u))
    with roles_catalogue(roles_url) as catalogue:
        budget_app = make_service("budget", budget_url, catalogue=catalogue)
        with evaluation_upstreams(catalogue, budget_app) as (budget, roles):
            yield make_service("evaluation", url, budget=budget, roles=roles)
    database_factory.drop(url)


@pytest.fixture
def as_admin(evaluation_app: FastAPI) -> object:
    return schemathesis.openapi.from_asgi("/openapi.json", signing_app(evaluation_app))


@pytest.fixture
def as_practice_system(evaluation_app: FastAPI) -> object:
    return schemathesis.openapi.from_asgi("/openapi.json", signing_app(evaluation_app, PRACTICE_SYSTEM))


admin_schema = schemathesis.pytest.from_fixture("as_admin")
practice_schema = schemathesis.pytest.from_fixture("as_practice_system")


@admin_schema.include(tag="workload").parametrize()
@SETTINGS
def test_workload_direct_as_an_admin(case: Any) -> None:
    # Requests are signed on the way in (signing_app), as the gateway signs them; the public API-key
    # schemes the document declares are exercised through the gateway.
    case.call_and_validate(excluded_checks=[ignored_auth])


@practice_schema.include(tag="workload").parametrize()
@settings(SETTINGS, max_examples=20)
def test_workload_direct_as_a_practice_system(case: Any) -> None:
    # Most bodies name other practices (403) or none it may read (404): none may be a server error.
    case.call_and_validate(checks=[not_a_server_error])


@pytest.fixture
def seeded_evaluation_app(database_factory: DatabaseFactory, backend: str) -> Iterator[FastAPI]:
    """The evaluation service before a register with ICB QHM, PCN U12345 (A81001) and its post 1, so
    generated requests reach past "not found"."""
    url = database_factory.create("evaluation", backend, lambda u: migrate.upgrade("evaluation", u))
    roles_url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    budget_url = database_factory.create("budget", "sqlite", lambda u: migrate.upgrade("budget", u))
    with roles_catalogue(roles_url) as catalogue:
        budget_app = make_service("budget", budget_url, catalogue=catalogue)
        with evaluation_upstreams(catalogue, budget_app) as (budget, roles):
            auth = GatewaySigner()
            for path, body in (
                ("/v1/icbs", {"code": "QHM", "name": "North East"}),
                (
                    "/v1/pcns",
                    {"code": "U12345", "name": "R", "icb_code": "QHM", "practice_codes": ["A81001"], "list_size": 9000},
                ),
                ("/v1/posts", {**POST, "pcn_code": "U12345", "employer_code": "A81001", "practice_codes": ["A81001"]}),
            ):
                assert budget.client.post(path, json=body, auth=auth).status_code == 201
            yield make_service("evaluation", url, budget=budget, roles=roles)
    database_factory.drop(url)


@pytest.fixture
def rest_as_admin(seeded_evaluation_app: FastAPI) -> object:
    return schemathesis.openapi.from_asgi("/openapi.json", signing_app(seeded_evaluation_app))


rest_schema = schemathesis.pytest.from_fixture("rest_as_admin")


@rest_schema.exclude(tag="workload").parametrize()
@settings(SETTINGS, max_examples=20)
def test_the_rest_of_the_evaluation_service_direct(case: Any) -> None:
    # Job plans, KPIs, measurements, readiness and the analyses, against a register with post 1.
    case.call_and_validate(excluded_checks=[ignored_auth])
