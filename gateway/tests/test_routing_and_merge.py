"""The route table and the OpenAPI merge, without any service running."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.openapi_merge import MergeConflict, merge_documents
from gateway.routing import ROUTES, owner_of


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/v1/roles", "roles"),
        ("/v1/roles/clinical_pharmacist/rates", "roles"),
        ("/v1/rates", "roles"),
        ("/v1/pcns/U12345/budgets/2024-25", "budget"),
        ("/v1/claims/42/submit", "budget"),
        ("/v1/funding-rates", "budget"),
        ("/v1/workload", "evaluation"),
        ("/v1/evaluations/posts/1/kpi-attainment", "evaluation"),
        ("/v1/rolesx", None),
        ("/v1/", None),
        ("/v2/roles", None),
        ("/roles", None),
        ("/openapi.json", None),
    ],
)
def test_owner_of(path: str, owner: str | None) -> None:
    assert owner_of(path) == owner


def test_every_resource_of_the_contract_has_an_owner() -> None:
    contract = {
        "roles": "roles",
        "rates": "roles",
        "icbs": "budget",
        "pcns": "budget",
        "funding-rates": "budget",
        "budgets": "budget",
        "posts": "budget",
        "claims": "budget",
        "claim-returns": "budget",
        "job-plans": "evaluation",
        "kpis": "evaluation",
        "workload": "evaluation",
        "list-sizes": "evaluation",
        "evaluations": "evaluation",
        "readiness": "evaluation",
        "practices": "budget",
    }
    assert contract == ROUTES


def doc(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas or {}}, "tags": []}


PROBLEM = {"type": "object", "properties": {"type": {"type": "string"}}}


def test_merge_keeps_every_path_and_shared_identical_schemas() -> None:
    a = doc({"/v1/roles": {"get": {"operationId": "list_roles"}}}, {"Problem": PROBLEM, "Role": {"type": "object"}})
    b = doc({"/v1/pcns": {"get": {"operationId": "list_pcns"}}}, {"Problem": copy.deepcopy(PROBLEM)})
    merged = merge_documents({"roles": a, "budget": b}, version="1")
    assert set(merged["paths"]) == {"/v1/roles", "/v1/pcns"}
    assert set(merged["components"]["schemas"]) == {"Problem", "Role"}
    assert "ApiKeyAuth" in merged["components"]["securitySchemes"]


def test_merge_refuses_a_path_clash() -> None:
    a = doc({"/v1/roles": {"get": {"operationId": "a"}}})
    b = doc({"/v1/roles": {"get": {"operationId": "b"}}})
    with pytest.raises(MergeConflict, match="/v1/roles"):
        merge_documents({"roles": a, "budget": b}, version="1")


def test_merge_refuses_a_schema_name_clash() -> None:
    a = doc({"/v1/a": {}}, {"Post": {"type": "object", "title": "A"}})
    b = doc({"/v1/b": {}}, {"Post": {"type": "object", "title": "B"}})
    with pytest.raises(MergeConflict, match="Post"):
        merge_documents({"roles": a, "budget": b}, version="1")


def test_merge_refuses_a_duplicate_operation_id() -> None:
    a = doc({"/v1/a": {"get": {"operationId": "list_things"}}})
    b = doc({"/v1/b": {"get": {"operationId": "list_things"}}})
    with pytest.raises(MergeConflict, match="list_things"):
        merge_documents({"roles": a, "budget": b}, version="1")
