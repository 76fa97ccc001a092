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
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from gateway.main import Gateway
from gateway.routing import PUBLIC_PATHS, owner_of

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


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or what its ``$ref`` (into this document) names."""
    while "$ref" in node:
        ref: str = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


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
            response = resolve(document, response)
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


def inline_enums(document: dict[str, Any]) -> list[str]:
    """Where an ``enum`` is written out anywhere but at the top of a named schema."""
    found: list[str] = []

    def visit(node: Any, where: str, top: bool) -> None:
        if isinstance(node, dict):
            if "enum" in node and not top:
                found.append(f"{where}: {node['enum']}")
            for key, value in node.items():
                visit(value, f"{where}/{key}", False)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{where}/{index}", False)

    for name, schema in document["components"]["schemas"].items():
        visit(schema, f"#/components/schemas/{name}", True)
    visit(document["paths"], "#/paths", False)
    return found


async def test_each_set_of_enum_values_is_one_named_schema(gateway_app: Gateway) -> None:
    """A generated client gets one type per set of values: every enum is a named schema the document
    refers to (never an inline copy), and no two names share a set of values. The services define the
    enums they share (`Geography`, `RateProvenance`, `CapUnit`, `Direction`, `Frequency`) alike, and the
    merge keeps one (two that differ are a merge conflict)."""
    document = await merged(gateway_app)
    assert inline_enums(document) == []
    named = {name: schema for name, schema in document["components"]["schemas"].items() if "enum" in schema}
    by_values: dict[frozenset[Any], list[str]] = {}
    for name, schema in named.items():
        by_values.setdefault(frozenset(schema["enum"]), []).append(name)
    assert [names for names in by_values.values() if len(names) > 1] == [], "one set of values, several names"
    assert len(by_values) == len(named)
    text = json.dumps(document["paths"]) + json.dumps(
        {name: schema for name, schema in document["components"]["schemas"].items() if name not in named}
    )
    assert [name for name in named if f'"#/components/schemas/{name}"' not in text] == [], "a named enum nothing uses"
    shared = {"Geography", "Pot", "ClaimStatus", "ClaimReturnStatus", "ClientKind", "EmploymentModel", "RateProvenance"}
    assert shared | {"ResponseFormat", "StaffGroup", "CapUnit", "Direction", "Frequency"} <= set(named)
    for name in named:
        assert named[name].get("description"), f"{name} says what it is"


async def test_the_problem_schema_types_its_errors_and_checks(gateway_app: Gateway) -> None:
    document = await merged(gateway_app)
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert {"type", "title", "status"} <= set(problem["required"])
    assert problem.get("additionalProperties") is True  # RFC 9457 extension members (`reason`, `lines`, …)
    items = {name: problem["properties"][name]["anyOf"][0]["items"]["$ref"] for name in ("errors", "checks")}
    assert items == {"errors": "#/components/schemas/ProblemFieldError", "checks": "#/components/schemas/ProblemCheck"}
    assert set(schemas["ProblemFieldError"]["required"]) == {"loc", "msg"}
    assert set(schemas["ProblemCheck"]["required"]) == {"code", "status"}
    for example in problem["examples"]:
        validate_example(document, {"$ref": "#/components/schemas/Problem"}, example, "Problem")
    assert {"errors", "checks"} <= {member for example in problem["examples"] for member in example}


async def test_the_document_names_its_owner_licence_and_servers(gateway_app: Gateway) -> None:
    document = await merged(gateway_app)
    assert document["info"]["contact"]["name"]  # its address is the environment's (GATEWAY_API_CONTACT_*)
    assert document["info"]["license"]["name"]
    assert document["servers"][0]["url"] == "/"
    assert all(server.get("description") for server in document["servers"])


def header_names(document: dict[str, Any], response: dict[str, Any]) -> dict[str, bool]:
    """The headers a response documents, each with whether it is required."""
    return {
        name: bool(resolve(document, header).get("required"))
        for name, header in resolve(document, response).get("headers", {}).items()
    }


async def test_every_response_documents_the_headers_a_client_can_rely_on(gateway_app: Gateway) -> None:
    document = await merged(gateway_app)
    for method, path, op in operations(document):
        params = {(p["in"], p["name"].lower()) for p in op.get("parameters", [])}
        limited = path.startswith("/v1/") and path not in PUBLIC_PATHS
        for status, response in op["responses"].items():
            where = f"{method.upper()} {path} {status}"
            headers = header_names(document, response)
            assert headers.get("X-Request-ID") is True and "X-Correlation-ID" in headers, where
            if status == "429":
                assert headers.get("Retry-After") is True, where
            if status == "503":
                assert "Retry-After" in headers, where
            if status == "401":
                assert headers.get("WWW-Authenticate") is True, where
            if status == "201":
                assert "Location" in headers, where
            if status == "200" and ("query", "cursor") in params:
                assert "X-Next-Cursor" in headers, where
            if status.startswith("2") and ("header", "idempotency-key") in params:
                assert {"Idempotent-Replayed", "Location"} <= set(headers), where
            if limited and status not in {"401", "413", "431"}:
                assert {"RateLimit", "RateLimit-Policy"} <= set(headers), where


async def test_every_operation_documents_what_the_gateway_answers_for_it(gateway_app: Gateway) -> None:
    """What the edge answers whatever the route (statuses a route answers itself are driven into, per
    operation, by tests/contract/test_documented_statuses.py)."""
    document = await merged(gateway_app)
    for method, path, op in operations(document):
        where = f"{method.upper()} {path}"
        documented = set(op["responses"])
        assert "431" in documented, where
        if not path.startswith("/v1/"):
            continue
        assert "429" in documented, where
        if "requestBody" in op:
            assert {"400", "413", "422"} <= documented, where
        if op.get("parameters"):
            assert "422" in documented, where
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "400" in documented, where  # a `.` or `..` segment
        if owner_of(path) is not None:
            assert {"502", "503", "504"} <= documented, where
        if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in op.get("parameters", [])):
            assert "409" in documented, where


async def test_every_operation_has_a_real_summary_and_a_description(gateway_app: Gateway) -> None:
    """A generated client's method docs and /docs's list show the summary: a phrase a person wrote, not
    FastAPI's title-cased function name; the description says who may call it and what it answers."""
    document = await merged(gateway_app)
    summaries = []
    for method, path, op in operations(document):
        where = f"{method.upper()} {path}"
        summary = op.get("summary", "")
        assert summary and len(summary) <= 60 and not summary.endswith("."), where
        assert summary != op["operationId"].replace("_", " ").title(), f"{where}: FastAPI's default summary"
        assert len(op.get("description", "")) >= 20, where
        summaries.append(summary)
    assert len(summaries) == len(set(summaries)), "two operations share a summary"


def examples_of(document: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples a media type documents: its own, or its schema's (a list's: one of its items)."""
    found = [media["example"]] if "example" in media else []
    found += [resolve(document, example)["value"] for example in media.get("examples", {}).values()]
    schema = resolve(document, media.get("schema", {}))
    found += schema.get("examples", [])
    if not found and schema.get("type") == "array":
        found += [[item] for item in resolve(document, schema.get("items", {})).get("examples", [])]
    return found


def validate_example(document: dict[str, Any], schema: dict[str, Any], example: Any, where: str) -> None:
    root = {**schema, "components": document["components"]}
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OAS31Validator(root).iter_errors(example)]
    assert not errors, f"{where}: the example does not fit its schema: {errors[:3]}"


async def test_every_write_documents_a_request_and_a_response_example(gateway_app: Gateway) -> None:
    """Each write shows what to send and what comes back, and each example fits its schema (so the
    examples stay true as the bodies change)."""
    document = await merged(gateway_app)
    for method, path, op in operations(document):
        if method not in {"post", "put", "patch", "delete"}:
            continue
        where = f"{method.upper()} {path}"
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            examples = examples_of(document, media)
            assert examples, f"{where}: no example of its {media_type} request"
            if media_type.endswith("json") or media_type == "application/x-www-form-urlencoded":
                for example in examples:
                    validate_example(document, media["schema"], example, f"{where} request")
        for status, response in op["responses"].items():
            media = resolve(document, response).get("content", {}).get("application/json")
            if status.startswith("2") and media is not None:
                examples = examples_of(document, media)
                assert examples, f"{where} {status}: no example of its response"
                for example in examples:
                    validate_example(document, media["schema"], example, f"{where} {status}")
