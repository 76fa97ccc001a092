"""The evaluation service app: ``create_app(settings)``; ``app()`` is the uvicorn factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, event

from arrs_kit.app import create_service_app
from evaluation.analyses.cache import StateCache
from evaluation.analyses.cost_routes import router as cost_router
from evaluation.analyses.routers import router as analyses_router
from evaluation.analyses.schemas import PcnEvaluation, PcnEvaluationRow
from evaluation.analyses.shift_routes import router as shift_router
from evaluation.analyses.summary_routes import router as summary_router
from evaluation.clients.budget import BudgetClient, Read
from evaluation.clients.roles import RolesClient
from evaluation.config import EvaluationSettings
from evaluation.jobplans.kpi_routes import router as kpi_router
from evaluation.jobplans.routers import router as jobplans_router
from evaluation.kinds import KINDS
from evaluation.models import idempotency_keys
from evaluation.readiness.routers import router as readiness_router
from evaluation.workload.routers import router as workload_router

TAGS = [
    {"name": "workload", "description": "Appointment counts and list sizes posted by practice systems."},
    {"name": "job-plans", "description": "Job plans per post: the six questions every role must answer."},
    {"name": "kpis", "description": "A post's KPIs and their measurements."},
    {"name": "evaluations", "description": "The analyses: is the role working?"},
    {"name": "readiness", "description": "Operating-plan readiness per PCN."},
]


def plan_every_execution(engine: Engine) -> None:
    """On PostgreSQL, plan each execution of a statement for its own parameters (``plan_cache_mode =
    force_custom_plan`` on every connection of the pool).

    psycopg prepares a statement on the server after its fifth execution, and after five more PostgreSQL
    may switch a prepared statement to one generic plan for any parameters. The analyses' aggregations
    (a list of an ICB's practices, a window of weeks) are executed again and again with the same text;
    their generic plan probes ``list_size`` once per practice-week where the plan made for the actual
    parameters hashes it, and took twice as long (``bench/RESULTS.md``, the analyses). Planning them
    afresh costs well under a millisecond."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _custom_plans(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a SET inside the pool's transaction would be rolled back
        try:
            dbapi_connection.execute("SET plan_cache_mode = force_custom_plan")
        finally:
            dbapi_connection.autocommit = autocommit


def create_app(
    settings: EvaluationSettings | None = None,
    *,
    configure_logs: bool = True,
    budget: BudgetClient | None = None,
    roles: RolesClient | None = None,
) -> FastAPI:
    """The app; ``budget`` and ``roles`` replace the HTTP clients of those services (tests pass ones
    bound to real apps in the same process)."""
    settings = settings or EvaluationSettings()
    app = create_service_app(
        name="evaluation",
        title="ARRS evaluation service",
        description="Job plans, KPIs, workload data and the analyses of whether a role is working.",
        version="1.0.0",
        settings=settings,
        routers=[
            workload_router,
            jobplans_router,
            kpi_router,
            analyses_router,
            shift_router,
            cost_router,
            summary_router,
            readiness_router,
        ],
        tags=TAGS,
        configure_logs=configure_logs,
        principal_kinds=KINDS,
        idempotency=idempotency_keys,
    )
    plan_every_execution(app.state.db.engine)
    secret = settings.gateway_secret.get_secret_value()
    app.state.budget = budget or BudgetClient.over_http(
        settings.budget_url,
        gateway_secret=secret,
        ttl_s=settings.upstream_cache_ttl_s,
        timeout_s=settings.upstream_timeout_s,
        tracing=app.state.tracing,
    )
    entries = settings.analysis_cache_entries
    app.state.icb_evaluations = StateCache[list[PcnEvaluationRow]](entries) if entries else None
    app.state.pcn_evaluations = StateCache[tuple[tuple[Read, ...], PcnEvaluation]](entries) if entries else None
    app.state.roles = roles or RolesClient.over_http(
        settings.roles_url, gateway_secret=secret, timeout_s=settings.upstream_timeout_s, tracing=app.state.tracing
    )
    return app


def app() -> FastAPI:
    """Factory for ``uvicorn --factory evaluation.main:app``."""
    return create_app()
