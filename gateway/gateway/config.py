"""Settings of the gateway (env prefix ``GATEWAY_``; platform values from ``ARRS_*``)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from arrs_kit.settings import DEV_ADMIN_API_KEY, PlatformSettings, default_sqlite_url, normalise_database_url

DEV_TOKEN_KEY = "dev-token-signing-key-change-me-0123456789"  # noqa: S105 - refused in production

DEFAULT_RATE_LIMITS: dict[str, tuple[float, int]] = {
    # kind: (requests per second, burst). Admin is not limited unless listed.
    "icb": (20.0, 60),
    "pcn": (10.0, 30),
    "practice_system": (20.0, 60),
    "dashboard": (10.0, 30),
}


class GatewaySettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    admin_api_key: SecretStr = Field(
        SecretStr(DEV_ADMIN_API_KEY),
        validation_alias="ARRS_ADMIN_API_KEY",
        description="Bootstrap admin API key; refused at its development default in production.",
    )
    database_url: str = Field(default_sqlite_url("gateway"), description="API clients and the audit log.")
    host: str = "127.0.0.1"
    port: int = 8000
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port of the gateway's Prometheus metrics (/metrics), apart from the public port so that "
        "the public door never serves them; off without it.",
    )
    metrics_host: str | None = Field(None, description="Address the metrics port listens on (default: host).")
    api_contact_email: str | None = Field(None, description="The API's contact address in the OpenAPI document.")
    api_contact_url: str | None = Field(None, description="The API's contact page in the OpenAPI document.")
    roles_url: str = Field("http://127.0.0.1:8001", description="Base URL of the roles service.")
    budget_url: str = Field("http://127.0.0.1:8002", description="Base URL of the budget service.")
    evaluation_url: str = Field("http://127.0.0.1:8003", description="Base URL of the evaluation service.")
    upstream_timeout_s: float = Field(10.0, gt=0, description="Longest wait for an upstream's answer: then 504.")
    upstream_connect_timeout_s: float = Field(2.0, gt=0, description="Longest wait to connect: then 503.")
    scorecard_timeout_s: float = Field(
        5.0, gt=0, description="Longest wait for each part of a scorecard: then the part is missing, not the card."
    )
    bulk_upstream_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Longest wait for the answer to a bulk upload (/v1/workload, /v1/list-sizes), which merges "
        "after its last byte: then 504.",
    )
    readiness_timeout_s: float = Field(
        2.0,
        gt=0,
        description="Longest wait for each check of /readyz (an upstream, the database): then not ready. Below the "
        "readiness probe's own timeout (3 s in deploy/k8s).",
    )
    upstream_max_connections: int = Field(100, ge=1, description="Pooled connections per upstream.")
    openapi_cache_s: float = Field(30.0, ge=0, description="How long the merged OpenAPI document is reused.")
    max_buffered_body_bytes: int = Field(
        1_048_576, ge=0, description="Bodies up to this size are read whole before forwarding; larger ones stream."
    )
    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest request body (413 above it).")
    max_bulk_body_bytes: int = Field(
        536_870_912,
        ge=1,
        description="Largest body on the bulk endpoints (/v1/workload, /v1/list-sizes), 413 above it: 512 MiB "
        "holds a national upload of over two million records. The body is spooled to a temporary file, "
        "never held in memory, and the service parses it as it streams.",
    )
    token_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {"dev-1": SecretStr(DEV_TOKEN_KEY)},
        description="Token signing keys by key id (JSON). Every key verifies; rotate by adding a key, "
        "switching token_signing_key_id to it, and removing the old key after token_ttl_s.",
    )
    token_signing_key_id: str = "dev-1"  # noqa: S105 - a key id, not a key
    token_ttl_s: int = Field(3600, ge=60, le=86_400)
    credential_cache_s: float = Field(
        5.0, ge=0, description="How long a replica trusts a looked-up client before reading it again."
    )
    auth_failures_allowed: int = Field(
        10, ge=1, description="Failed authentications per minute for one key or client from one address before 429."
    )
    auth_failures_per_source: int = Field(
        30, ge=1, description="Failed authentications per minute from one address, whatever it presents, before 429."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (JSON list) of the proxies in front of the gateway whose "
        "X-Forwarded-For is believed; without them the peer's address is the client's.",
    )
    max_header_count: int = Field(100, ge=10, description="Most header fields a request may carry (431 above).")
    max_header_bytes: int = Field(
        16_384, ge=1024, description="Largest total size of a request's header fields in bytes (431 above)."
    )
    rate_limits: dict[str, tuple[float, int]] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="Per client kind: (requests per second, burst). Kinds not listed (admin) are not limited.",
    )
    rate_limit_redis_url: str | None = Field(
        None, description="Share rate-limit buckets across replicas in Redis; without it each replica counts alone."
    )

    @model_validator(mode="after")
    def _check(self) -> GatewaySettings:
        self.database_url = normalise_database_url(self.database_url)
        if self.token_signing_key_id not in self.token_keys:
            raise ValueError("GATEWAY_TOKEN_SIGNING_KEY_ID must name one of GATEWAY_TOKEN_KEYS")
        for network in self.trusted_proxies:
            ipaddress.ip_network(network, strict=False)  # a ValueError names the bad entry
        if self.env == "production":
            if self.admin_api_key.get_secret_value() == DEV_ADMIN_API_KEY:
                raise ValueError(
                    "ARRS_ADMIN_API_KEY is left at its development default; refusing to start in production"
                )
            if len(self.admin_api_key.get_secret_value()) < 32:
                raise ValueError("ARRS_ADMIN_API_KEY must be at least 32 characters in production")
            for kid, key in self.token_keys.items():
                if key.get_secret_value() == DEV_TOKEN_KEY or len(key.get_secret_value()) < 32:
                    raise ValueError(f"token key {kid} is the development key or shorter than 32 characters")
        return self

    def api_contact(self) -> dict[str, str]:
        """What the environment gives the OpenAPI document's contact: an address and a page, where set."""
        given = {"email": self.api_contact_email, "url": self.api_contact_url}
        return {key: value for key, value in given.items() if value}

    def upstream_urls(self) -> dict[str, str]:
        return {"roles": self.roles_url, "budget": self.budget_url, "evaluation": self.evaluation_url}
