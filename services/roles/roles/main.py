"""The roles service app: ``create_app(settings)``; ``app()`` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from arrs_kit.app import create_service_app
from roles.access import KINDS
from roles.config import RolesSettings
from roles.fastpath import KeptReads
from roles.models import idempotency_keys
from roles.routers import router
from roles.snapshot import Catalogue

TAGS = [
    {
        "name": "roles",
        "description": "The ARRS role catalogue: roles, funding shares, caps, supervision, job-plan templates.",
    },
    {"name": "rates", "description": "Effective-dated maximum reimbursement rates per WTE per year."},
]


def create_app(settings: RolesSettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = settings or RolesSettings()
    app = create_service_app(
        name="roles",
        title="ARRS roles service",
        description="The role catalogue: roles, effective-dated maximum reimbursement rates, funding shares, caps, "
        "supervision rules and job-plan templates.",
        version="1.0.0",
        settings=settings,
        routers=[router],
        tags=TAGS,
        configure_logs=configure_logs,
        principal_kinds=KINDS,
        idempotency=idempotency_keys,
        innermost=[KeptReads],
    )
    app.state.catalogue = Catalogue(app.state.db.engine, check_s=settings.catalogue_check_s)
    return app


def app() -> FastAPI:
    """Factory for ``uvicorn --factory roles.main:app``."""
    return create_app()
