"""The public contract: each service's OpenAPI document is snapshotted, and the merged document is
valid OpenAPI 3.1 that a client generator can use without hand edits.

A change to a snapshot is a change to the public contract: regenerate with
``UPDATE_SNAPSHOTS=1 make test`` and review the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from gateway.main import Gateway

SNAPSHOTS = Path(__file__).parent / "snapshots"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.mark.parametrize("name", ["roles", "budget", "evaluation"])
def test_service_document_matches_its_snapshot(service_apps: dict[str, FastAPI], name: str) -> None:
    document = service_apps[name].openapi()
    path = SNAPSHOTS / f"{name}.openapi.json"
    rendered = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(rendered)
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"wrote a new snapshot {path.name}; commit it and run again")
    assert json.loads(path.read_text()) == document, (
        f"{name}'s OpenAPI document differs from {path.name}: if the change is intended, "
        "run UPDATE_SNAPSHOTS=1 make test and commit the new snapshot"
    )


async def merged(gateway_app: Gateway) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gateway") as client:
        response = await client.get("/openapi.json")
    await gateway_app.aclose()
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_merged_document_is_valid_openapi(gateway_app: Gateway) -> None:
    document = await merged(gateway_app)
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"].startswith("3.1")


async def test_every_operation_is_ready_for_client_generators(gateway_app: Gateway) -> None:
    document = await merged(gateway_app)
    ops = operations(document)
    assert len(ops) >= 12
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    for method, path, op in ops:
        where = f"{method.upper()} {path}"
        assert op["operationId"].replace("_", "").isalnum() and op["operationId"].islower(), where
        assert op.get("tags"), where
        assert op.get("description") or op.get("summary"), where
        # Authentication is a security scheme, never a header parameter.
        headers = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
        assert not headers & {"x-api-key", "apikey", "authorization"}, where
        if path.startswith("/v1/") and path != "/v1/oauth/token":  # the token endpoint is how you get credentials
            assert op["security"], where
            assert "401" in op["responses"], where
        for status, response in op["responses"].items():
            if status.isdigit() and int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], f"{where} {status}"
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
            if status.startswith("2") and "content" in response and "application/json" in response["content"]:
                schema = response["content"]["application/json"]["schema"]
                # Bodies are named schemas (or lists of them), so generated clients get real types.
                ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
                assert ref, f"{where} {status} answers an anonymous schema"
        if "requestBody" in op and "application/json" in op["requestBody"]["content"]:
            body_schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert "$ref" in body_schema, where


async def test_lists_are_named_pages(gateway_app: Gateway) -> None:
    document = await merged(gateway_app)
    schemas = document["components"]["schemas"]
    for name in ("RolePage", "RatePage"):
        assert set(schemas[name]["properties"]) == {"data", "next_cursor"}
        assert "$ref" in schemas[name]["properties"]["data"]["items"]
    assert "HTTPValidationError" not in schemas


async def test_a_needed_if_match_is_documented_required_and_so_is_its_428(gateway_app: Gateway) -> None:
    """An edit that answers 428 without If-Match documents the header as required (and 412, 428);
    one whose If-Match is truly optional (a first write creates) documents it optional."""
    document = await merged(gateway_app)
    required: list[tuple[str, str]] = []
    optional: list[tuple[str, str]] = []
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header" and parameter["name"].lower() == "if-match":
                (required if parameter["required"] else optional).append((method, path))
                if parameter["required"]:
                    assert {"412", "428"} <= set(operation["responses"]), (method, path)
                    assert parameter["schema"] == {"title": "If-Match", "type": "string"}, (method, path)
                    assert "x-required-header" not in str(parameter)
    assert ("patch", "/v1/posts/{post_id}") in required and ("patch", "/v1/roles/{role_code}") in required
    assert ("patch", "/v1/claims/{claim_id}") in required
    assert ("put", "/v1/pcns/{pcn_code}/weighted-populations/{fy}") in optional  # a first value needs none
