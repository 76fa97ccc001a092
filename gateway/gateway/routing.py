"""Which service owns a public path: a table of resource prefixes (the first segment after ``/v1``)."""

from __future__ import annotations

ROUTES: dict[str, str] = {
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

PUBLIC_PATHS = frozenset({"/v1/oauth/token"})
"""Paths under /v1 that authenticate the caller themselves."""

BULK_PATHS = frozenset({"/v1/workload", "/v1/list-sizes"})
"""Paths whose bodies may be as large as ``max_bulk_body_bytes``."""


def owner_of(path: str) -> str | None:
    """The service that owns ``path``, or None when no service does."""
    if not path.startswith("/v1/"):
        return None
    end = path.find("/", 4)
    resource = path[4:] if end == -1 else path[4:end]
    return ROUTES.get(resource)
