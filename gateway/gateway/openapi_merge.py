"""One OpenAPI document for the whole platform, merged from the services' own documents.

Paths and schema names must be unique across services: a clash raises :class:`MergeConflict` rather
than letting one service's definition silently replace another's. Identical definitions (the
shared ``Problem`` schema, the security schemes) are kept once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from arrs_kit.openapi import SECURITY_SCHEMES


class MergeConflict(Exception):
    """Two services define the same path, or the same schema name differently."""


GATEWAY_DESCRIPTION = """\
The public API of the ARRS platform (NHS England's Additional Roles Reimbursement Scheme): the role
catalogue, PCN budgets and claims, and the evaluation of whether roles work.

Authenticate with `X-API-Key` (or `apikey`), or with a bearer token from `POST /v1/oauth/token`
(OAuth 2.0 client credentials). Errors are RFC 9457 `application/problem+json`; lists
answer `{"data": [...], "next_cursor": ...}` and are also available as CSV (`?format=csv`).
Every response carries `X-Request-ID`.
"""


def merge_documents(documents: Mapping[str, dict[str, Any]], *, version: str) -> dict[str, Any]:
    """Merge ``{service: openapi document}`` into one public document."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "ARRS platform API", "version": version, "description": GATEWAY_DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
        "tags": [],
    }
    path_owner: dict[str, str] = {}
    schema_owner: dict[str, str] = {}
    tag_names: set[str] = set()
    for service, document in documents.items():
        for path, item in document.get("paths", {}).items():
            if path in path_owner:
                raise MergeConflict(f"path {path} is defined by both {path_owner[path]} and {service}")
            path_owner[path] = service
            merged["paths"][path] = copy.deepcopy(item)
        components = document.get("components", {})
        for name, schema in components.get("schemas", {}).items():
            existing = merged["components"]["schemas"].get(name)
            if existing is not None and existing != schema:
                raise MergeConflict(f"schema {name} is defined differently by {schema_owner[name]} and {service}")
            if existing is None:
                merged["components"]["schemas"][name] = copy.deepcopy(schema)
                schema_owner[name] = service
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
    for path, item in merged["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            op_id = operation["operationId"]
            if op_id in operation_ids:
                raise MergeConflict(
                    f"operationId {op_id} is used by {operation_ids[op_id]} and {method.upper()} {path}"
                )
            operation_ids[op_id] = f"{method.upper()} {path}"
    return merged
