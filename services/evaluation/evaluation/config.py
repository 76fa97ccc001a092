"""Settings of the evaluation service (env prefix ``EVALUATION_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import ServiceSettings, default_sqlite_url


class EvaluationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore")

    database_url: str = default_sqlite_url("evaluation")
    port: int = 8003
    budget_url: str = Field(
        "http://127.0.0.1:8002", description="Base URL of the budget service (posts, PCNs, practices)."
    )
    roles_url: str = Field("http://127.0.0.1:8001", description="Base URL of the roles service (job-plan templates).")
    upstream_timeout_s: float = Field(
        3.0, gt=0, le=60, description="How long a call to the budget or roles service may take: then 503."
    )
    upstream_cache_ttl_s: float = Field(
        30.0, ge=0, le=3600, description="How long an answer of the budget service (a post, a PCN) is reused."
    )
    idempotency_lease_s: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="How long an Idempotency-Key taken by a request that never finished answers 409 before a "
        "retry may take it over (bulk uploads can take minutes).",
    )
    analysis_cache_entries: int = Field(
        512,
        ge=0,
        le=100_000,
        description="How many computed ICB lists of PCN evaluations, and how many PCN evaluation summaries, are "
        "kept (each kind up to this many), each answered again while nothing it was computed from has changed "
        "(evaluation.analyses.cache); 0 computes every request afresh.",
    )
