"""One OpenAPI document for the whole platform, merged from the services' own documents.

Paths and schema names must be unique across services: a clash raises :class:`MergeConflict` rather
than letting one service's definition silently replace another's. Identical definitions (the
shared ``Problem`` schema, the security schemes, an enum two services name alike) are kept once.

Each service documents what it answers (its routes' statuses, the kit's generic ones, the headers it
sets: :mod:`arrs_kit.openapi`). The gateway then documents, per operation, what it answers itself in
front of them (:func:`document_edge`): 431 on every request, 400 for a path with dot segments, 413 for
a body over its limit, 401 with ``WWW-Authenticate``, 429 with ``Retry-After`` (rate limits per
client kind, failed-credential throttling), the ``RateLimit``/``RateLimit-Policy`` pair on whatever a
rate-limited client is answered, and 502/503/504 when the owning service fails, is down or is slow.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from arrs_kit.openapi import (
    HEADERS,
    SECURITY_SCHEMES,
    header_ref,
    iter_operations,
    refer_to_named_enums,
    response_ref,
)
from arrs_kit.problems import PROBLEM_MEDIA_TYPE
from gateway.routing import PUBLIC_PATHS


class MergeConflict(Exception):
    """Two services define the same path, or the same schema name differently."""


GATEWAY_DESCRIPTION = """\
The public API of the ARRS platform (NHS England's Additional Roles Reimbursement Scheme): the role
catalogue, PCN budgets and claims, and the evaluation of whether roles work.

Authenticate with `X-API-Key` (or `apikey`), or with a bearer token from `POST /v1/oauth/token`
(OAuth 2.0 client credentials). Errors are RFC 9457 `application/problem+json` (`Problem`); lists
answer `{"data": [...], "next_cursor": ...}` and are also available as CSV (`?format=csv`).
Every response carries `X-Request-ID`; every status an operation can answer, and every header a
client can rely on, is documented on the operation. A client whose kind is rate-limited is told
its limit on every answer (`RateLimit-Policy`, `RateLimit`) and gets 429 with `Retry-After` past it.
"""

CONTACT = {"name": "ARRS platform team"}
"""The document's contact: the team's name, with the address an environment gives it
(``GATEWAY_API_CONTACT_EMAIL``, ``GATEWAY_API_CONTACT_URL``)."""
LICENSE = {"name": "Open Government Licence v3.0", "identifier": "OGL-UK-3.0"}
SERVERS = [
    {"url": "/", "description": "This gateway (the only public door)."},
    {"url": "http://127.0.0.1:8000", "description": "Local development (`make run`)."},
]

EDGE_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Policy": {
        "description": "The client's rate limit, when its kind has one (IETF draft-ietf-httpapi-ratelimit-headers: "
        '`"<kind>";q=<burst>;w=<seconds to refill from empty>`). Admin clients are not limited.',
        "schema": {"type": "string"},
        "example": '"pcn";q=30;w=3',
    },
    "RateLimit": {
        "description": "What is left of that limit after this request: "
        '`"<kind>";r=<whole requests left>;t=<seconds until the next one>`.',
        "schema": {"type": "string"},
        "example": '"pcn";r=12;t=1',
    },
}
LIMIT_HEADERS = ("RateLimit-Policy", "RateLimit")
PROBLEM_EXAMPLES: list[dict[str, Any]] = [
    {
        "type": "/problems/validation-error",
        "title": "The request is not valid",
        "status": 422,
        "detail": "body.code: String should match pattern '^[A-Za-z0-9]{3}$'",
        "instance": "/v1/icbs",
        "request_id": "bbb984f339eb4a63bf895f12c29321ea",
        "errors": [
            {"loc": ["body", "code"], "msg": "String should match pattern '^[A-Za-z0-9]{3}$'"},
            {"loc": ["body", "name"], "msg": "String should have at least 1 character"},
        ],
    },
    {
        "type": "/problems/post-in-baseline",
        "title": "The post is part of the 2019 baseline",
        "status": 422,
        "detail": "Post 1 is part of the 31 March 2019 baseline and is not claimable.",
        "instance": "/v1/claims",
        "request_id": "dc17773cfa7747ebb593cc9f1f67b56d",
        "post_id": 1,
        "month": "2024-10",
        "checks": [
            {
                "code": "post-in-baseline",
                "status": 422,
                "detail": "Post 1 is part of the 31 March 2019 baseline and is not claimable.",
            },
            {
                "code": "post-not-active",
                "status": 422,
                "detail": "Post 1 runs from 2024-11-01: no day of 2024-10 lies inside.",
            },
        ],
    },
]
"""The public document's problems: a validation error (`errors`) and a claim refused by two checks (`checks`)."""
_IDS = ("X-Request-ID", "X-Correlation-ID")


def _edge_response(description: str, *headers: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    documented: dict[str, Any] = {name: header_ref(name) for name in (*_IDS, *headers)}
    for name in required:
        documented[name] = {**copy.deepcopy(HEADERS[name]), "required": True}
    return {
        "description": description,
        "headers": documented,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


EDGE_RESPONSES: dict[str, dict[str, Any]] = {
    "Unauthenticated": _edge_response(
        "No credentials, or credentials that are not valid: unknown, revoked or expired (`unauthenticated`).",
        required=("WWW-Authenticate",),
    ),
    "PayloadTooLarge": _edge_response(
        "The body is larger than the gateway accepts (`payload-too-large`): 1 MiB, 512 MiB for a bulk upload "
        "(`GATEWAY_MAX_BODY_BYTES`, `GATEWAY_MAX_BULK_BODY_BYTES`)."
    ),
    "TooManyRequests": _edge_response(
        "Too many requests (`too-many-requests`): past the client's rate limit, or too many failed credentials "
        "from this address. Retry after `Retry-After` seconds.",
        *LIMIT_HEADERS,
        required=("Retry-After",),
    ),
    "RequestHeaderFieldsTooLarge": _edge_response(
        "Too many header fields, or too many bytes of them (`request-header-fields-too-large`)."
    ),
    "BadGateway": _edge_response(
        "The service that owns the path broke the connection before answering (`bad-gateway`); a write may or may "
        "not have been applied: retry it with the same `Idempotency-Key`.",
        *LIMIT_HEADERS,
    ),
    "ServiceUnavailable": _edge_response(
        "A service this request needs is unavailable (the service behind the gateway, `upstream-unavailable`; its "
        "database, the role catalogue or the signature store). Nothing was done; retry after `Retry-After` seconds.",
        "Retry-After",
        *LIMIT_HEADERS,
    ),
    "GatewayTimeout": _edge_response(
        "The service that owns the path did not answer in time (`upstream-timeout`); a write may or may not have "
        "been applied: retry it with the same `Idempotency-Key`.",
        *LIMIT_HEADERS,
    ),
}

# Answered before the rate limit is taken: no RateLimit fields.
_BEFORE_LIMITS = {"401", "413", "431"}
_BEFORE_LIMITS_RESPONSES = {"Unauthenticated", "PayloadTooLarge", "RequestHeaderFieldsTooLarge"}


def merge_documents(
    documents: Mapping[str, dict[str, Any]], *, version: str, contact: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge ``{service: openapi document}`` into one public document; ``"gateway"`` names the
    gateway's own, every other document is a service's that the gateway proxies."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "ARRS platform API",
            "version": version,
            "description": GATEWAY_DESCRIPTION,
            "contact": {**CONTACT, **(contact or {})},
            "license": dict(LICENSE),
        },
        "servers": copy.deepcopy(SERVERS),
        "paths": {},
        "components": {
            "schemas": {},
            "responses": {},
            "headers": {},
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
        },
        "tags": [],
    }
    path_owner: dict[str, str] = {}
    owners: dict[str, dict[str, str]] = {"schemas": {}, "responses": {}, "headers": {}}
    tag_names: set[str] = set()
    for service, document in documents.items():
        for path, item in document.get("paths", {}).items():
            if path in path_owner:
                raise MergeConflict(f"path {path} is defined by both {path_owner[path]} and {service}")
            path_owner[path] = service
            merged["paths"][path] = copy.deepcopy(item)
        components = document.get("components", {})
        for kind, owner in owners.items():
            for name, definition in components.get(kind, {}).items():
                existing = merged["components"][kind].get(name)
                if existing is not None and existing != definition:
                    kind_name = kind.rstrip("s")
                    raise MergeConflict(f"{kind_name} {name} is defined differently by {owner[name]} and {service}")
                if existing is None:
                    merged["components"][kind][name] = copy.deepcopy(definition)
                    owner[name] = service
        for name, scheme in components.get("securitySchemes", {}).items():
            existing = merged["components"]["securitySchemes"].get(name)
            if existing is not None and existing != scheme:
                raise MergeConflict(f"security scheme {name} of {service} differs from the gateway's")
            merged["components"]["securitySchemes"][name] = copy.deepcopy(scheme)
        for tag in document.get("tags", []):
            if tag["name"] not in tag_names:
                tag_names.add(tag["name"])
                merged["tags"].append(copy.deepcopy(tag))
    operation_ids: dict[str, str] = {}
    for path, method, operation in iter_operations(merged):
        if "operationId" not in operation:
            continue
        op_id = operation["operationId"]
        if op_id in operation_ids:
            raise MergeConflict(f"operationId {op_id} is used by {operation_ids[op_id]} and {method.upper()} {path}")
        operation_ids[op_id] = f"{method.upper()} {path}"
    document_edge(merged, proxied={path for path, owner in path_owner.items() if owner != "gateway"})
    return refer_to_named_enums(merged)


def document_edge(document: dict[str, Any], *, proxied: set[str]) -> dict[str, Any]:
    """Document on each operation what the gateway answers in front of the services (see the module)."""
    components = document["components"]
    headers = components.setdefault("headers", {})
    headers.update(copy.deepcopy(EDGE_HEADERS))
    # Every 401 of the public document is the gateway's (or the token endpoint's): both name the scheme.
    headers["WWW-Authenticate"] = {**copy.deepcopy(HEADERS["WWW-Authenticate"]), "required": True}
    if "Problem" in components.get("schemas", {}):
        components["schemas"]["Problem"]["examples"] = copy.deepcopy(PROBLEM_EXAMPLES)
    shared = components.setdefault("responses", {})
    shared.update(copy.deepcopy(EDGE_RESPONSES))
    for name, response in shared.items():
        if name not in _BEFORE_LIMITS_RESPONSES:
            for header in LIMIT_HEADERS:
                response.setdefault("headers", {}).setdefault(header, header_ref(header))
    for path, _method, operation in iter_operations(document):
        responses = operation.setdefault("responses", {})
        responses.setdefault("431", response_ref("RequestHeaderFieldsTooLarge"))
        if not path.startswith("/v1/"):
            continue
        if "requestBody" in operation:
            responses.setdefault("413", response_ref("PayloadTooLarge"))
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            responses.setdefault("400", response_ref("BadRequest"))  # a `.` or `..` segment: invalid-path
        responses.setdefault("429", response_ref("TooManyRequests"))
        if path in proxied:
            responses.setdefault("502", response_ref("BadGateway"))
            responses.setdefault("503", response_ref("ServiceUnavailable"))
            responses.setdefault("504", response_ref("GatewayTimeout"))
        if path in PUBLIC_PATHS:
            continue  # the token endpoint: no client yet, so no rate limit
        for status, response in responses.items():
            if "$ref" in response or status in _BEFORE_LIMITS:
                continue
            answered = response.setdefault("headers", {})
            for name in LIMIT_HEADERS:
                answered.setdefault(name, header_ref(name))
    return document
