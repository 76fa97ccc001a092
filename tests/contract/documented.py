"""What the merged OpenAPI document promises an operation answers: its statuses and, for each, its
response headers. Contract tests hold every answer they provoke to it (:meth:`Contract.check`), so a
generated client meets no status and no header the document does not name."""

from __future__ import annotations

import re
from typing import Any

import httpx

METHODS = ("get", "put", "post", "delete", "patch")
GENERIC_HEADERS = frozenset({"content-type", "content-length", "date", "server", "transfer-encoding", "connection"})
"""Headers of HTTP itself, not of this API: never listed per response."""


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node``, or what its ``$ref`` (into ``document``) names."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.operations: dict[tuple[str, str], dict[str, Any]] = {
            (method.upper(), template): operation
            for template, item in document["paths"].items()
            for method, operation in item.items()
            if method in METHODS
        }
        self._templates = [
            (method, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"), template)
            for method, template in self.operations
        ]

    def template_of(self, method: str, path: str) -> str | None:
        # A literal segment wins over a parameter (/v1/claims/preview before /v1/claims/{claim_id}).
        found = [t for m, pattern, t in self._templates if m == method and pattern.match(path)]
        return min(found, key=lambda t: t.count("{")) if found else None

    def statuses(self, method: str, template: str) -> set[str]:
        return set(self.operations[(method, template)]["responses"])

    def headers(self, method: str, template: str, status: str) -> set[str]:
        response = resolve(self.document, self.operations[(method, template)]["responses"][status])
        return {name.lower() for name in response.get("headers", {})}

    def check(self, method: str, template: str, response: httpx.Response) -> list[str]:
        """What in ``response`` (to ``method template``) the document does not promise."""
        status = str(response.status_code)
        where = f"{method} {template}"
        if status not in self.statuses(method, template):
            return [f"{where}: {status} is not documented ({response.text[:160]})"]
        documented = self.headers(method, template, status)
        return [
            f"{where} {status}: header {name} is not documented"
            for name in sorted({name.lower() for name in response.headers} - GENERIC_HEADERS - documented)
        ]
