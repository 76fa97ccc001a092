"""The gateway in-process in front of the three real services (each on its own fresh database):
routing to the owner, the owners' problems and 405s passed through, readiness of every upstream and
the merged OpenAPI. Stand-in upstreams are enough for the rest (gateway/tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.main import Gateway

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}


@pytest.fixture
async def gateway(gateway_app: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    await gateway_app.aclose()


async def test_routes_to_the_roles_service_with_the_admin_key(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/v1/roles", params={"limit": 500}, headers=ADMIN_KEY)
    assert response.status_code == 200
    assert len(response.json()["data"]) == 26
    nhs_header = await gateway.get("/v1/rates", params={"on": "2024-10-01"}, headers={"apikey": "dev-admin-key"})
    assert nhs_header.status_code == 200


async def test_upstream_problems_and_405_pass_through(gateway: httpx.AsyncClient) -> None:
    missing = await gateway.get("/v1/roles/astronaut", headers={**ADMIN_KEY, "X-Request-ID": "r-1"})
    assert missing.status_code == 404
    assert missing.json() == {
        **missing.json(),
        "type": "/problems/role-not-found",
        "request_id": missing.headers["x-request-id"],
    }
    assert missing.headers["x-correlation-id"] == "r-1"
    not_allowed = await gateway.delete("/v1/roles", headers=ADMIN_KEY)
    assert not_allowed.status_code == 405 and "GET" in not_allowed.headers["allow"]
    options = await gateway.options("/v1/roles", headers=ADMIN_KEY)
    assert options.status_code == 405
    head = await gateway.head("/v1/roles", headers=ADMIN_KEY)
    assert head.status_code == 405 and "GET" in head.headers["allow"]


async def test_health_readiness_and_merged_openapi(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/healthz")).json()["status"] == "ok"
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["upstreams"] == {
        "roles": "ready",
        "budget": "ready",
        "evaluation": "ready",
        "gateway_database": "ready",
    }
    document = (await gateway.get("/openapi.json")).json()
    assert "/v1/roles" in document["paths"] and "/v1/rates" in document["paths"]
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "X-API-Key"
    docs = await gateway.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
