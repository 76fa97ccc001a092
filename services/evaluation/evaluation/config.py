"""Settings of the evaluation service (env prefix ``EVALUATION_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import ServiceSettings, default_sqlite_url


class EvaluationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore")

    database_url: str = default_sqlite_url("evaluation")
    port: int = 8003
