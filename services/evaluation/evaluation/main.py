"""The evaluation service app: ``create_app(settings)``; ``app()`` is the uvicorn factory."""

from __future__ import annotations

from fastapi import FastAPI

from arrs_kit.app import create_service_app
from evaluation.config import EvaluationSettings
from evaluation.routers import router


def create_app(settings: EvaluationSettings | None = None, *, configure_logs: bool = True) -> FastAPI:
    return create_service_app(
        name="evaluation",
        title="ARRS evaluation service",
        description="Job plans, KPIs, workload data and the analyses of whether a role is working.",
        version="1.0.0",
        settings=settings or EvaluationSettings(),
        routers=[router],
        configure_logs=configure_logs,
    )


def app() -> FastAPI:
    """Factory for ``uvicorn --factory evaluation.main:app``."""
    return create_app()
