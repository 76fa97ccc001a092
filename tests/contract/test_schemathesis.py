"""Property-based tests from the OpenAPI documents (schemathesis, in-process): whatever a client
sends, no server error and no response outside the documented contract, for the roles service
directly (SQLite and PostgreSQL) and through the gateway.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth

from arrs_kit import migrate
from arrs_kit.testing import ADMIN, DatabaseFactory, signed_headers
from gateway.main import Gateway
from tests.contract.conftest import make_service

GATEWAY_HEADERS = {"X-API-Key": "dev-admin-key"}
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


@pytest.fixture
def roles_direct(database_factory: DatabaseFactory, backend: str) -> object:
    url = database_factory.create("roles", backend, lambda u: migrate.upgrade("roles", u))
    app: FastAPI = make_service("roles", url)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    database_factory.drop(url)


@pytest.fixture
def through_gateway(gateway_app: Gateway) -> object:
    return schemathesis.openapi.from_asgi("/openapi.json", gateway_app)


direct_schema = schemathesis.pytest.from_fixture("roles_direct")
gateway_schema = schemathesis.pytest.from_fixture("through_gateway")


@direct_schema.parametrize()
@SETTINGS
def test_roles_service_direct(case: Any) -> None:
    # A service trusts only the gateway's signed principal, not the public API-key schemes its
    # document declares for the platform; those are exercised through the gateway below.
    headers = signed_headers(ADMIN, method=case.method, path=unquote(case.formatted_path))
    case.call_and_validate(headers=headers, excluded_checks=[ignored_auth])


@gateway_schema.parametrize()
@SETTINGS
def test_platform_through_the_gateway(case: Any) -> None:
    case.call_and_validate(headers=GATEWAY_HEADERS)
