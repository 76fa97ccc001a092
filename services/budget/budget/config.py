"""Settings of the budget service (env prefix ``BUDGET_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import ServiceSettings, default_sqlite_url


class BudgetSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BUDGET_", extra="ignore")

    database_url: str = default_sqlite_url("budget")
    port: int = 8002
