"""Crafted cursors through the gateway (security probe, issue 9): every list of the platform, the
gateway's own included, answers 422 ``invalid-cursor`` for a cursor it did not issue, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arrs_kit.pagination import encode_cursor
from arrs_kit.testing import assert_problem
from gateway.main import Gateway

ADMIN = {"X-API-Key": "dev-admin-key"}
# Path parameters the test makes a resource for; a list under any other (a KPI's measurements, say)
# may answer 404 for the made-up id instead, but never a 500.
PATH_VALUES = {"pcn_code": "U00001", "post_id": "1", "role_code": "clinical_pharmacist"}
POST = {
    "pcn_code": "U00001",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A00001",
    "practice_codes": ["A00001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Post",
}


def required_query(parameters: list[dict[str, Any]]) -> dict[str, str]:
    """A list's required query parameters (a financial year, an ICB), each from its documented example."""
    query = {}
    for p in parameters:
        if p["in"] == "query" and p.get("required"):
            schema = p.get("schema", {})
            examples = schema.get("examples") or p.get("examples") or [schema.get("example", "QHM")]
            query[p["name"]] = str(examples[0])
    return query


async def list_paths(gw: httpx.AsyncClient) -> dict[str, tuple[dict[str, str], bool]]:
    """The GET operations that take a ``cursor``, their path parameters and required query parameters
    filled in: the query, and whether each names only resources the test made."""
    document = (await gw.get("/openapi.json")).json()
    paths = {}
    for template, item in document["paths"].items():
        parameters = item.get("get", {}).get("parameters", [])
        if any(p["name"] == "cursor" and p["in"] == "query" for p in parameters):
            names = {p["name"] for p in parameters if p["in"] == "path"}
            values = {name: PATH_VALUES.get(name, "1") for name in names}
            paths[template.format(**values)] = (required_query(parameters), names <= set(PATH_VALUES))
    return paths


async def test_every_list_refuses_a_crafted_cursor(gateway_app: Gateway) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as gw:
        assert (await gw.post("/v1/icbs", json={"code": "QHM", "name": "N"}, headers=ADMIN)).status_code == 201
        pcn = {"code": "U00001", "name": "P", "icb_code": "QHM", "practice_codes": ["A00001"], "list_size": 1}
        assert (await gw.post("/v1/pcns", json=pcn, headers=ADMIN)).status_code == 201
        assert (await gw.post("/v1/posts", json=POST, headers=ADMIN)).json()["id"] == 1
        paths = await list_paths(gw)
        assert {
            "/v1/audit-events",
            "/v1/budgets",
            "/v1/claims",
            "/v1/posts",
            "/v1/pcns/U00001/ledger",
            "/v1/roles",
        } <= set(paths)
        assert paths["/v1/budgets"][0] == {"fy": "2024-25"}
        for path, (query, made) in sorted(paths.items()):
            for key in ([2**63], [-(2**63) - 1], [1.5], [None], []):
                response = await gw.get(path, params={**query, "cursor": encode_cursor(key)}, headers=ADMIN)
                allowed = {422} if made else {404, 422}
                assert response.status_code in allowed, f"{path} with {key}: {response.status_code} {response.text}"
                if response.status_code == 422:
                    assert_problem(response, 422, "invalid-cursor")


@pytest.mark.parametrize("key", [[2**63], ["x"], [True], [1, 2]], ids=repr)
async def test_audit_events_refuse_a_cursor_they_did_not_issue(gateway_app: Gateway, key: list[object]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as gw:
        response = await gw.get("/v1/audit-events", params={"cursor": encode_cursor(key)}, headers=ADMIN)
        assert_problem(response, 422, "invalid-cursor")
