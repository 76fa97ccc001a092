"""Crafted cursors through the gateway (security probe, issue 9): every list of the platform, the
gateway's own included, answers 422 ``invalid-cursor`` for a cursor it did not issue, never a 500."""

from __future__ import annotations

import httpx
import pytest

from arrs_kit.pagination import encode_cursor
from arrs_kit.testing import assert_problem
from gateway.main import Gateway

ADMIN = {"X-API-Key": "dev-admin-key"}
PATH_VALUES = {"pcn_code": "U00001"}


async def list_paths(gw: httpx.AsyncClient) -> list[str]:
    """The GET operations that take a ``cursor``, with their path parameters filled in."""
    document = (await gw.get("/openapi.json")).json()
    paths = []
    for template, item in document["paths"].items():
        parameters = item.get("get", {}).get("parameters", [])
        if any(p["name"] == "cursor" and p["in"] == "query" for p in parameters):
            paths.append(template.format(**PATH_VALUES))
    return sorted(paths)


async def test_every_list_refuses_a_crafted_cursor(gateway_app: Gateway) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as gw:
        assert (await gw.post("/v1/icbs", json={"code": "QHM", "name": "N"}, headers=ADMIN)).status_code == 201
        pcn = {"code": "U00001", "name": "P", "icb_code": "QHM", "practice_codes": ["A00001"], "list_size": 1}
        assert (await gw.post("/v1/pcns", json=pcn, headers=ADMIN)).status_code == 201
        paths = await list_paths(gw)
        assert {"/v1/audit-events", "/v1/claims", "/v1/posts", "/v1/pcns/U00001/ledger", "/v1/roles"} <= set(paths)
        for path in paths:
            for key in ([2**63], [-(2**63) - 1], [1.5], [None], []):
                response = await gw.get(path, params={"cursor": encode_cursor(key)}, headers=ADMIN)
                assert response.status_code == 422, f"{path} with {key}: {response.status_code} {response.text}"
                assert_problem(response, 422, "invalid-cursor")


@pytest.mark.parametrize("key", [[2**63], ["x"], [True], [1, 2]], ids=repr)
async def test_audit_events_refuse_a_cursor_they_did_not_issue(gateway_app: Gateway, key: list[object]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as gw:
        response = await gw.get("/v1/audit-events", params={"cursor": encode_cursor(key)}, headers=ADMIN)
        assert_problem(response, 422, "invalid-cursor")
