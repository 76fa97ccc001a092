"""Which service owns a public path: a table of resource prefixes (the first segment after ``/v1``)."""

from __future__ import annotations

ROUTES: dict[str, str] = {
    "roles": "roles",
    "rates": "roles",
    "icbs": "budget",
    "pcns": "budget",
    "funding-rates": "budget",
    "posts": "budget",
    "claims": "budget",
    "job-plans": "evaluation",
    "kpis": "evaluation",
    "workload": "evaluation",
    "list-sizes": "evaluation",
    "evaluations": "evaluation",
    "readiness": "evaluation",
}


def owner_of(path: str) -> str | None:
    """The service that owns ``path``, or None when no service does."""
    if not path.startswith("/v1/"):
        return None
    end = path.find("/", 4)
    resource = path[4:] if end == -1 else path[4:end]
    return ROUTES.get(resource)
