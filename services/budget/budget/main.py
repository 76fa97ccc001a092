"""The budget service app: ``create_app(settings)``; ``app()`` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from arrs_kit.app import create_service_app
from budget.config import BudgetSettings
from budget.routers import router

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
]


def create_app(settings: BudgetSettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    return create_service_app(
        name="budget",
        title="ARRS budget service",
        description="PCN budgets, the double-entry ledger, posts and monthly reimbursement claims.",
        version="1.0.0",
        settings=settings or BudgetSettings(),
        routers=[router],
        tags=TAGS,
        configure_logs=configure_logs,
    )


def app() -> FastAPI:
    """Factory for ``uvicorn --factory budget.main:app``."""
    return create_app()
