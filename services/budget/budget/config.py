"""Settings of the budget service (env prefix ``BUDGET_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import ServiceSettings, default_sqlite_url


class BudgetSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BUDGET_", extra="ignore")

    database_url: str = default_sqlite_url("budget")
    port: int = 8002
    roles_url: str = Field("http://127.0.0.1:8001", description="Base URL of the roles service (claims read rates).")
    roles_cache_ttl_s: float = Field(
        60.0, ge=0, le=3600, description="How long a role's rates are reused before the roles service is asked again."
    )
    roles_timeout_s: float = Field(5.0, gt=0, le=60, description="How long a claim waits for the roles service.")
    idempotency_lease_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long an Idempotency-Key taken by a request that never finished (its process died) "
        "answers 409 idempotency-key-in-progress before a retry may take it over.",
    )
