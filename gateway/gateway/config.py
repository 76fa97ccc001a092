"""Settings of the gateway (env prefix ``GATEWAY_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import DEV_ADMIN_API_KEY, PlatformSettings


class GatewaySettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    admin_api_key: SecretStr = Field(
        SecretStr(DEV_ADMIN_API_KEY),
        validation_alias="ARRS_ADMIN_API_KEY",
        description="Bootstrap admin API key; refused at its development default in production.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    roles_url: str = Field("http://127.0.0.1:8001", description="Base URL of the roles service.")
    budget_url: str = Field("http://127.0.0.1:8002", description="Base URL of the budget service.")
    evaluation_url: str = Field("http://127.0.0.1:8003", description="Base URL of the evaluation service.")
    upstream_timeout_s: float = Field(10.0, gt=0, description="Longest wait for an upstream's answer: then 504.")
    upstream_connect_timeout_s: float = Field(2.0, gt=0, description="Longest wait to connect: then 503.")
    upstream_max_connections: int = Field(100, ge=1, description="Pooled connections per upstream.")
    openapi_cache_s: float = Field(30.0, ge=0, description="How long the merged OpenAPI document is reused.")
    max_buffered_body_bytes: int = Field(
        1_048_576, ge=0, description="Bodies up to this size are read whole before forwarding; larger ones stream."
    )

    @model_validator(mode="after")
    def _refuse_default_admin_key_in_production(self) -> GatewaySettings:
        if self.env == "production" and self.admin_api_key.get_secret_value() == DEV_ADMIN_API_KEY:
            raise ValueError("ARRS_ADMIN_API_KEY is left at its development default; refusing to start in production")
        return self

    def upstream_urls(self) -> dict[str, str]:
        return {"roles": self.roles_url, "budget": self.budget_url, "evaluation": self.evaluation_url}
