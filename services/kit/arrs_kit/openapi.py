"""OpenAPI post-processing shared by every app, so the merged public document is honest.

- every error response is ``application/problem+json`` with the ``Problem`` schema;
- FastAPI's default 422 (``HTTPValidationError``, plain JSON) is replaced by the problem;
- operations that take input document 422, operations with a body document 400 (unreadable body);
- authentication is declared as security schemes, never as header parameters;
- a header a route needs but checks itself (``If-Match``: 428 when left out) is documented required.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from arrs_kit.etag import REQUIRED_HEADER
from arrs_kit.problems import PROBLEM_MEDIA_TYPE, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

SECURITY_SCHEMES: dict[str, Any] = {
    "ApiKeyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key issued to an API client (in development: `dev-admin-key`).",
    },
    "NhsApiKeyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "apikey",
        "description": "The same API key in the NHS API platform's header.",
    },
    "OAuth2ClientCredentials": {
        "type": "oauth2",
        "description": "A bearer token from POST /v1/oauth/token (client credentials).",
        "flows": {"clientCredentials": {"tokenUrl": "/v1/oauth/token", "scopes": {}}},
    },
}
DEFAULT_SECURITY: list[dict[str, list[str]]] = [
    {"ApiKeyAuth": []},
    {"NhsApiKeyAuth": []},
    {"OAuth2ClientCredentials": []},
]

_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def polish_openapi(schema: dict[str, Any], *, public: bool = True, signed: bool = False) -> dict[str, Any]:
    """``signed``: a service behind the gateway, whose every request the gateway signs."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(_problem_schemas())
    if public:
        components["securitySchemes"] = dict(SECURITY_SCHEMES)
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for parameter in operation.get("parameters", []):
                if parameter.get("schema", {}).pop(REQUIRED_HEADER, False):
                    # Declared optional so that its absence is 428, not 422: documented as it is, required.
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "title": parameter["schema"].get("title", "If-Match")}
                    responses.setdefault("412", {"description": "The ETag sent is not the current one"})
                    responses.setdefault("428", {"description": "If-Match was not sent"})
            takes_input = bool(operation.get("parameters")) or "requestBody" in operation
            if takes_input:
                responses.setdefault("422", {"description": "The request is not valid"})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "The body could not be read"})
            if public and operation.get("security", DEFAULT_SECURITY):
                operation.setdefault("security", DEFAULT_SECURITY)
                responses.setdefault("401", {"description": "No or bad credentials"})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = _problem_content()
    return schema


def install_openapi(app: FastAPI, *, public: bool = True, signed: bool = False) -> None:
    """Replace ``app.openapi`` with the polished, cached document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = polish_openapi(schema, public=public, signed=signed)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
