"""Property-based tests from the OpenAPI documents (schemathesis, in-process): whatever a client
sends, no server error and no response outside the documented contract, for the roles service
directly (SQLite and PostgreSQL) and through the gateway.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory, signing_app
from gateway.main import Gateway
from tests.contract.conftest import make_service

GATEWAY_HEADERS = {"X-API-Key": "dev-admin-key"}
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
# Through the gateway every operation is fuzzed again end to end, but the services' own inputs are
# already fuzzed directly (40 examples each, both databases): fewer examples here keep CI short.
GATEWAY_SETTINGS = settings(SETTINGS, max_examples=15)
PRACTICE_SYSTEM_SETTINGS = settings(SETTINGS, max_examples=8)


@pytest.fixture
def roles_direct(database_factory: DatabaseFactory, backend: str) -> object:
    url = database_factory.create("roles", backend, lambda u: migrate.upgrade("roles", u))
    app: FastAPI = make_service("roles", url)
    # A service trusts only the gateway's signed principal: every generated request is signed, as
    # the gateway would sign it, for its exact path, query and body.
    yield schemathesis.openapi.from_asgi("/openapi.json", signing_app(app))
    database_factory.drop(url)


@pytest.fixture
def through_gateway(gateway_app: Gateway) -> object:
    # The gateway in front of all three services, the budget service reading role rates from the same
    # roles service (tests/contract/conftest.py), so claims are computed, not refused with a 503.
    return schemathesis.openapi.from_asgi("/openapi.json", gateway_app)


direct_schema = schemathesis.pytest.from_fixture("roles_direct")
gateway_schema = schemathesis.pytest.from_fixture("through_gateway")


@direct_schema.parametrize()
@SETTINGS
def test_roles_service_direct(case: Any) -> None:
    # The public API-key schemes the document declares are exercised through the gateway below.
    case.call_and_validate(excluded_checks=[ignored_auth])


@gateway_schema.parametrize()
@GATEWAY_SETTINGS
def test_platform_through_the_gateway(case: Any) -> None:
    case.call_and_validate(headers=GATEWAY_HEADERS)


@pytest.fixture
def practice_system_key(gateway_app: Gateway) -> str:
    """A practice-system client of the same gateway, created through its API."""

    async def create() -> str:
        transport = httpx.ASGITransport(app=gateway_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            body = {"name": "practice feed", "kind": "practice_system", "org_codes": ["A00001"]}
            response = await client.post("/v1/clients", json=body, headers=GATEWAY_HEADERS)
            assert response.status_code == 201, response.text
            key: str = response.json()["api_key"]
            return key

    return asyncio.run(create())


@gateway_schema.parametrize()
@PRACTICE_SYSTEM_SETTINGS
def test_platform_through_the_gateway_as_a_practice_system(case: Any, practice_system_key: str) -> None:
    # Most answers are 403/404: what matters is that no input makes any of them a server error.
    case.call_and_validate(headers={"X-API-Key": practice_system_key}, checks=[not_a_server_error])
