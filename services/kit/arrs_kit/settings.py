"""Settings base shared by every app.

Each app subclasses :class:`ServiceSettings` with its own env prefix (``ROLES_``, ``BUDGET_``…).
Platform-wide values (environment, admin key, gateway secret) are read from ``ARRS_*`` variables
whatever the prefix, so one setting configures every process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ADMIN_API_KEY = "dev-admin-key"
DEV_GATEWAY_SECRET = "dev-gateway-secret-change-me"  # noqa: S105 - refused in production


def normalise_database_url(url: str) -> str:
    """Map a plain ``postgresql://`` (or ``postgres://``) URL to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg2://"):
        return "postgresql+psycopg://" + url[len("postgresql+psycopg2://") :]
    return url


def default_sqlite_url(name: str) -> str:
    var_dir = Path("var")
    return f"sqlite:///{var_dir / (name + '.db')}"


class PlatformSettings(BaseSettings):
    """Values every process shares."""

    model_config = SettingsConfigDict(extra="ignore")

    # Only the ARRS_* names are read from the environment; the field names work in code.
    env: Literal["development", "test", "production"] = Field("development", validation_alias="ARRS_ENV")
    gateway_secret: SecretStr = Field(
        SecretStr(DEV_GATEWAY_SECRET),
        validation_alias="ARRS_GATEWAY_SECRET",
        description="Shared secret the gateway signs forwarded principals with; services trust nothing else.",
    )
    gateway_secrets_accepted: list[SecretStr] = Field(
        default_factory=list,
        validation_alias="ARRS_GATEWAY_SECRETS_ACCEPTED",
        description="Other secrets (JSON list) whose signatures a service also accepts, never signs with: "
        "the next or the previous ARRS_GATEWAY_SECRET while it is rotated (README, Runbook).",
    )
    log_level: str = Field("INFO", validation_alias="ARRS_LOG_LEVEL")
    nonce_redis_url: str | None = Field(
        None,
        validation_alias="ARRS_NONCE_REDIS_URL",
        description="Redis shared by a service's replicas to refuse a signed request used twice; "
        "without it each process remembers the nonces it has seen (enough for one replica).",
    )
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("ARRS_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="Base URL of an OpenTelemetry collector's OTLP/HTTP receiver (spans go to <url>/v1/traces); "
        "tracing is off without it.",
    )

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> PlatformSettings:
        if any(not accepted.get_secret_value() for accepted in self.gateway_secrets_accepted):
            raise ValueError("ARRS_GATEWAY_SECRETS_ACCEPTED may not hold an empty secret")
        if self.env == "production":
            if self.gateway_secret.get_secret_value() == DEV_GATEWAY_SECRET:
                raise ValueError(
                    "ARRS_GATEWAY_SECRET is left at its development default; refusing to start in production"
                )
            if len(self.gateway_secret.get_secret_value()) < 32:
                raise ValueError("ARRS_GATEWAY_SECRET must be at least 32 characters in production")
            for accepted in self.gateway_secrets_accepted:
                if accepted.get_secret_value() == DEV_GATEWAY_SECRET or len(accepted.get_secret_value()) < 32:
                    raise ValueError(
                        "ARRS_GATEWAY_SECRETS_ACCEPTED holds the development secret or one shorter than 32 characters"
                    )
        return self


class ServiceSettings(PlatformSettings):
    """Base of a service's settings: adds its database URL (``<PREFIX>DATABASE_URL``)."""

    database_url: str = "sqlite:///var/service.db"
    host: str = "127.0.0.1"
    port: int = 8001
    database_pool_size: int = 10
    database_max_overflow: int = 20
    idempotency_lease_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How long an Idempotency-Key taken by a request that never finished (its process died) "
        "answers 409 idempotency-key-in-progress before a retry may take it over.",
    )

    @model_validator(mode="after")
    def _normalise_url(self) -> ServiceSettings:
        self.database_url = normalise_database_url(self.database_url)
        return self
