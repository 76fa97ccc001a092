"""OpenAPI post-processing shared by every app, so the merged public document is honest.

- every error response is ``application/problem+json`` with the ``Problem`` schema;
- FastAPI's default 422 (``HTTPValidationError``, plain JSON) is replaced by the problem;
- each operation documents the statuses any app answers for what it takes: 422 for input, 400 for
  an unreadable body, 401 where credentials are needed; a write taking an ``Idempotency-Key`` 409
  (the first request with the key still running); behind the gateway (``signed``) every operation
  503 (the database or the signature store unavailable). What a route alone answers (403, 404,
  409, …) it declares itself (:func:`arrs_kit.problems.problem_responses`);
- each response documents the headers a client can rely on, from ``components.headers``:
  ``X-Request-ID`` and ``X-Correlation-ID`` on all; ``X-Next-Cursor`` on a paged list (its CSV);
  ``Idempotent-Replayed`` and ``Location`` on a write that takes an ``Idempotency-Key``; ``Location``
  on a 201; ``Retry-After`` on 429 and 503; ``WWW-Authenticate`` on 401. A route documents what only it
  sets (``ETag``: :func:`response_headers`); what a route documents is never replaced;
- the generic responses are ``components.responses``, referred to, so the document stays readable;
- an enum whose values a named schema already defines is a reference to it, never a copy, so a
  generated client has one type per set of values (FastAPI copies a named ``Literal`` into a
  parameter that has a default);
- authentication is declared as security schemes, never as header parameters;
- a header a route needs but checks itself (``If-Match``: 428 when left out) is documented required.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from arrs_kit.etag import REQUIRED_HEADER
from arrs_kit.problems import PROBLEM_MEDIA_TYPE, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
HEADER_REF = "#/components/headers/"
RESPONSE_REF = "#/components/responses/"
SCHEMA_REF = "#/components/schemas/"

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

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The id the platform gave this request: in every answer, in problem bodies as `request_id`, "
        "in the logs and the audit log. Quote it when reporting a problem.",
        "required": True,
        "schema": {"type": "string"},
    },
    "X-Correlation-ID": {
        "description": "The client's own `X-Correlation-ID` (or, failing that, its `X-Request-ID`), echoed when it "
        "was a safe token (letters, digits, `-`, `_`, `.`, at most 128 characters).",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The resource's entity tag: send it as `If-Match` to edit it (412 when it has changed since).",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The URL of the resource the request created (on a replay, the first answer's).",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The authentication schemes the platform accepts (RFC 9110 §11.6.1).",
        "schema": {"type": "string"},
    },
    "X-Next-Cursor": {
        "description": "A CSV page's `next_cursor`: pass it as `cursor` for the next page; absent on the last page. "
        "(A JSON page carries it in its body.)",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the recorded answer to an earlier request with the same "
        "`Idempotency-Key` and body: nothing was done again.",
        "schema": {"type": "string", "const": "true"},
    },
    "Accept-Post": {
        "description": "The media types this endpoint reads (with a 415).",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "How the answer may be kept (`no-store`: never, as for a token).",
        "schema": {"type": "string"},
    },
    "Pragma": {
        "description": "`no-cache`, for HTTP/1.0 caches (with `Cache-Control: no-store`).",
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": 'A CSV answer\'s file name (`inline; filename="….csv"`).',
        "schema": {"type": "string"},
    },
}
"""``components.headers``: every response header an app sets that a client can rely on. (The gateway adds
its own: :mod:`gateway.openapi_merge`.)"""

_ALWAYS = ("X-Request-ID", "X-Correlation-ID")


def header_ref(name: str) -> dict[str, str]:
    return {"$ref": HEADER_REF + name}


def _with_headers(names: tuple[str, ...], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {name: header_ref(name) for name in names} | (extra or {})


def _problem_response(description: str, *headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _with_headers((*_ALWAYS, *headers)),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": dict(PROBLEM_REF)}},
    }


RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": _problem_response(
        "The request cannot be read: a body that is not what its `Content-Type` says (bytes that are not UTF-8, "
        "a form that cannot be parsed), or a path with a `.` or `..` segment (`invalid-path`)."
    ),
    "Unauthenticated": _problem_response(
        "No credentials, or credentials that are not valid: unknown, revoked or expired (`unauthenticated`).",
        "WWW-Authenticate",
    ),
    "ValidationFailed": _problem_response(
        "The request is not valid (`validation-error`, each problem in `errors`), or breaks a rule of the domain "
        "(the problem's `type` names it)."
    ),
    "ServiceUnavailable": _problem_response(
        "A service this request needs is unavailable (its database, its signature store, a service it reads, or "
        "the service itself behind the gateway). Nothing was done; retry after `Retry-After` seconds.",
        "Retry-After",
    ),
}
"""``components.responses``: the answers every app gives the same way, referred to by the operations."""


EXAMPLES_KEY = "x-arrs-examples"
_EXAMPLES: dict[str, list[Any]] = {}


def schema_examples(*examples: Any) -> dict[str, Any]:
    """A model's ``json_schema_extra`` giving its examples, kept whole in the OpenAPI document:
    ``model_config = ConfigDict(json_schema_extra=schema_examples(EXAMPLE))``. (FastAPI drops every null
    member from the document, examples' included, which would leave an example without the nullable
    fields its schema requires; :func:`polish_openapi` puts the examples back as given.)"""
    key = f"examples-{len(_EXAMPLES)}"
    _EXAMPLES[key] = copy.deepcopy(list(examples))
    return {"examples": list(examples), EXAMPLES_KEY: key}


def _restore_examples(schemas: dict[str, Any]) -> None:
    for schema in schemas.values():
        key = schema.pop(EXAMPLES_KEY, None) if isinstance(schema, dict) else None
        if key is not None:
            schema["examples"] = copy.deepcopy(_EXAMPLES[key])


def response_ref(name: str) -> dict[str, str]:
    return {"$ref": RESPONSE_REF + name}


def response_headers(*names: str, on: tuple[int, ...] = (200,)) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses`` entries documenting headers only it sets (``ETag``) on the statuses ``on``:
    ``responses=merge_responses(problem_responses(404), response_headers("ETag", on=(200, 201)))``.
    (FastAPI merges each into the response its ``response_model`` describes.) Any name of :data:`HEADERS`."""
    unknown = set(names) - set(HEADERS)
    if unknown:
        raise ValueError(f"no documented header {sorted(unknown)}: add it to arrs_kit.openapi.HEADERS")
    return {status: {"headers": {name: header_ref(name) for name in names}} for status in on}


def merge_responses(*parts: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Several ``responses`` dicts as one, the entries for one status merged (their headers joined)."""
    merged: dict[int | str, dict[str, Any]] = {}
    for part in parts:
        for status, doc in part.items():
            into = merged.setdefault(status, {})
            for key, value in copy.deepcopy(doc).items():
                if isinstance(value, dict) and isinstance(into.get(key), dict):
                    into[key] = {**into[key], **value}
                else:
                    into[key] = value
    return merged


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": dict(PROBLEM_REF)}}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=SCHEMA_REF + "{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def _header_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"].lower() for p in operation.get("parameters", []) if p.get("in") == "header"}


def _query_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}


def response_header_names(status: str, response: dict[str, Any], operation: dict[str, Any]) -> tuple[str, ...]:
    """The headers of :data:`HEADERS` that answer ``status`` of ``operation`` may carry, by the rules the kit
    (and the apps through it) follow; a route adds what only it sets."""
    names = list(_ALWAYS)
    idempotent = "idempotency-key" in _header_parameters(operation)
    if status.startswith("2"):
        if status == "200" and "cursor" in _query_parameters(operation):
            names.append("X-Next-Cursor")
        if status == "201" or idempotent:
            names.append("Location")
        if idempotent:
            names.append("Idempotent-Replayed")
        if "text/csv" in response.get("content", {}):
            names.append("Content-Disposition")
    elif status == "401":
        names.append("WWW-Authenticate")
    elif status in ("429", "503") or (status == "409" and idempotent):
        names.append("Retry-After")
    elif status == "412":
        names.append("ETag")  # the current one, to read again
    elif status == "415":
        names.append("Accept-Post")
    return tuple(names)


_REQUIRED_ON = {("429", "Retry-After")}
"""Headers always sent with a status (else they are documented optional: sent where they apply)."""


def _document_headers(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        if "$ref" in response:
            continue  # a shared response documents its own headers
        headers = response.setdefault("headers", {})
        for name in response_header_names(status, response, operation):
            required = (status, name) in _REQUIRED_ON
            headers.setdefault(
                name, {**copy.deepcopy(HEADERS[name]), "required": True} if required else header_ref(name)
            )


def polish_openapi(schema: dict[str, Any], *, public: bool = True, signed: bool = False) -> dict[str, Any]:
    """``signed``: a service behind the gateway (every request signed by it; its database and signature
    store may be unavailable: 503 on every operation)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(_problem_schemas())
    _restore_examples(schemas)
    components.setdefault("headers", {}).update(copy.deepcopy(HEADERS))
    components.setdefault("responses", {}).update(copy.deepcopy(RESPONSES))
    if public:
        components["securitySchemes"] = dict(SECURITY_SCHEMES)
    for _path, _method, operation in iter_operations(schema):
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
            responses.setdefault("422", response_ref("ValidationFailed"))
        if "requestBody" in operation:
            responses.setdefault("400", response_ref("BadRequest"))
        if "idempotency-key" in _header_parameters(operation):
            responses.setdefault(
                "409",
                {"description": "A request with this `Idempotency-Key` is still running: retry after `Retry-After`."},
            )
        if public and operation.get("security", DEFAULT_SECURITY):
            operation.setdefault("security", DEFAULT_SECURITY)
            responses.setdefault("401", response_ref("Unauthenticated"))
        if signed:
            responses.setdefault("503", response_ref("ServiceUnavailable"))
        for status, response in responses.items():
            if status.isdigit() and int(status) >= 400 and "$ref" not in response:
                response["content"] = _problem_content()
        _document_headers(operation)
    refer_to_named_enums(schema)
    return schema


def iter_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS and isinstance(operation, dict):
                yield path, method, operation


def _enum_key(schema: dict[str, Any]) -> tuple[Any, ...]:
    return (schema.get("type"), tuple(schema["enum"]))


def refer_to_named_enums(document: dict[str, Any]) -> dict[str, Any]:
    """Replace every inline ``enum`` whose values (and type) a named schema of ``document`` defines with a
    reference to that schema (keeping the inline one's ``description`` and ``default``)."""
    schemas = document.get("components", {}).get("schemas", {})
    named = {_enum_key(s): name for name, s in schemas.items() if isinstance(s, dict) and "enum" in s}
    if not named:
        return document

    def visit(node: Any, top: bool) -> Any:
        if isinstance(node, list):
            return [visit(item, False) for item in node]
        if not isinstance(node, dict):
            return node
        if not top and "enum" in node and _enum_key(node) in named:
            kept = {key: node[key] for key in ("description", "default", "examples") if key in node}
            return {"$ref": SCHEMA_REF + named[_enum_key(node)], **kept}
        return {key: visit(value, False) for key, value in node.items()}

    for name, value in list(schemas.items()):
        schemas[name] = visit(value, True)
    document["paths"] = visit(document.get("paths", {}), False)
    return document


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
