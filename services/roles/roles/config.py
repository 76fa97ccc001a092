"""Settings of the roles service (env prefix ``ROLES_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import ServiceSettings, default_sqlite_url


class RolesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROLES_", extra="ignore")

    database_url: str = default_sqlite_url("roles")
    port: int = 8001
    catalogue_check_s: float = Field(
        1.0,
        ge=0,
        description="How often a replica reads the catalogue's version stamp: a change made through another "
        "replica is served at most this late (0: on every read).",
    )
