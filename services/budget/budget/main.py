"""The budget service app: ``create_app(settings)``; ``app()`` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from arrs_kit.app import create_service_app
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.kinds import KINDS
from budget.models import idempotency_keys
from budget.routers import ROUTERS

TAGS = [
    {
        "name": "organisations",
        "description": "The register: ICBs, PCNs, member practices over time, list sizes, weighted populations.",
    },
    {"name": "funding-rates", "description": "ARRS rates per weighted patient, per financial year."},
    {
        "name": "budgets",
        "description": "PCN budgets per financial year and pot, on a double-entry, append-only ledger.",
    },
    {"name": "posts", "description": "Posts: one person in one role in one PCN."},
    {"name": "claims", "description": "Monthly reimbursement claims, their computation and the ICB lifecycle."},
    {
        "name": "claim returns",
        "description": "The monthly return of a PCN: its month's claims as lines, declared, submitted in one step, "
        "decided by the ICB and paid with one reference; exported for reconciliation.",
    },
    {
        "name": "planning",
        "description": "Per PCN and financial year: the forecast outturn and lapse, the headroom for a new post, "
        "and the workforce plan compared with posts and claims.",
    },
]


def create_app(
    settings: BudgetSettings | None = None, *, configure_logs: bool = True, catalogue: RoleCatalogue | None = None
) -> FastAPI:
    """The app; ``catalogue`` replaces the HTTP client of the roles service (tests pass one bound to
    a roles app in the same process)."""
    settings = settings or BudgetSettings()
    app = create_service_app(
        name="budget",
        title="ARRS budget service",
        description="PCN budgets, the double-entry ledger, posts and monthly reimbursement claims.",
        version="1.0.0",
        settings=settings,
        routers=ROUTERS,
        tags=TAGS,
        configure_logs=configure_logs,
        principal_kinds=KINDS,
        idempotency=idempotency_keys,
    )
    app.state.catalogue = catalogue or RoleCatalogue.over_http(
        settings.roles_url,
        gateway_secret=settings.gateway_secret.get_secret_value(),
        ttl_s=settings.roles_cache_ttl_s,
        timeout_s=settings.roles_timeout_s,
        connect_timeout_s=settings.roles_connect_timeout_s,
        max_in_flight=settings.roles_max_in_flight,
        breaker_failures=settings.roles_breaker_failures,
        breaker_cool_down_s=settings.roles_breaker_cool_down_s,
        tracing=app.state.tracing,
    )
    app.state.claim_window_months = settings.claim_window_months
    return app


def app() -> FastAPI:
    """Factory for ``uvicorn --factory budget.main:app``."""
    return create_app()
