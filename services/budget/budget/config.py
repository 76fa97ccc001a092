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
    roles_timeout_s: float = Field(
        2.0, gt=0, le=60, description="How long a call to the roles service waits for each read of its answer."
    )
    roles_connect_timeout_s: float = Field(
        0.5, gt=0, le=30, description="How long a call to the roles service waits to connect."
    )
    roles_max_in_flight: int = Field(
        4,
        ge=1,
        le=64,
        description="How many calls to the roles service may wait for it at once; one more is answered 503 "
        "roles-unavailable at once (Retry-After), so a stalled roles service cannot hold every worker thread.",
    )
    roles_breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive failed calls to the roles service that open the circuit breaker."
    )
    claim_window_months: int = Field(
        3,
        ge=0,
        le=36,
        description="How many months after a financial year ends its claims may still be made (in arrears, "
        "backdated): a year closes only after them. The default, 3, ends the window on 30 June.",
    )
    roles_breaker_cool_down_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="How long an open breaker answers 503 roles-unavailable at once before one trial call.",
    )
