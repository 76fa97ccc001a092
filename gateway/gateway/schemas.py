"""Bodies of the gateway's own endpoints: API clients, tokens, audit events."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import NoControlCharacters
from gateway.kinds import ClientKind

ICB_CODE = re.compile(r"^[A-Z0-9]{3}$")
PCN_CODE = re.compile(r"^U[0-9]{5}$")
PRACTICE_CODE = re.compile(r"^[A-Z][0-9]{5}$")


class ClientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Riverside PCN manager", "kind": "pcn", "org_codes": ["U12345"]}]},
    )

    name: Annotated[str, Field(min_length=1, max_length=200), NoControlCharacters]
    kind: ClientKind
    org_codes: Annotated[list[Annotated[str, Field(min_length=1, max_length=10)]], Field(max_length=200)] = Field(
        default_factory=list,
        description="admin: none; icb: its ICB code; pcn: its PCN code; practice_system: its practice codes; "
        "dashboard: an ICB code, or none for a national dashboard.",
    )

    @field_validator("org_codes")
    @classmethod
    def _upper(cls, codes: list[str]) -> list[str]:
        return [code.strip().upper() for code in codes]

    @model_validator(mode="after")
    def _codes_fit_the_kind(self) -> ClientCreate:
        codes = self.org_codes
        if len(set(codes)) != len(codes):
            raise ValueError("org_codes repeats a code")
        rules = {
            "admin": (0, 0, None, "no org codes"),
            "icb": (1, 1, ICB_CODE, "exactly one ICB code (3 letters or digits)"),
            "pcn": (1, 1, PCN_CODE, "exactly one PCN code (U and 5 digits)"),
            "practice_system": (1, 200, PRACTICE_CODE, "one or more practice codes (a letter and 5 digits)"),
            "dashboard": (0, 1, ICB_CODE, "one ICB code, or none for a national dashboard"),
        }
        least, most, pattern, wanted = rules[self.kind]
        if not least <= len(codes) <= most or (pattern is not None and not all(pattern.match(c) for c in codes)):
            raise ValueError(f"a {self.kind} client takes {wanted}")
        return self


class ClientPublic(BaseModel):
    id: str
    client_id: str = Field(description="The OAuth client_id (the same as id).")
    name: str
    kind: ClientKind
    org_codes: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None


class ClientCreated(ClientPublic):
    model_config = ConfigDict(
        json_schema_extra=schema_examples(
            {
                "id": "cl_4f9e2b7c1d3a4e5f8a6b9c0d1e2f3a4b",
                "client_id": "cl_4f9e2b7c1d3a4e5f8a6b9c0d1e2f3a4b",
                "name": "Riverside PCN manager",
                "kind": "pcn",
                "org_codes": ["U12345"],
                "created_at": "2024-11-04T09:30:00Z",
                "created_by": "bootstrap-admin",
                "revoked_at": None,
                "revoked_by": None,
                "api_key": "arrs_0123456789abcdef.an-example-key-shown-once-only",
                "client_secret": "arrs_fedcba9876543210.an-example-secret-shown-once-only",
            }
        )
    )

    api_key: str = Field(description="Shown once: send it as X-API-Key. Only a salted hash is kept.")
    client_secret: str = Field(description="Shown once: the OAuth client secret for POST /v1/oauth/token.")


class ClientPage(Page[ClientPublic]):
    """A page of API clients."""


class TokenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6ImRldi0xIn0.eyJzdWIiOiJjbF9leGFtcGxlIn0.c2lnbmF0dXJl",
                    "token_type": "bearer",
                    "expires_in": 3600,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int = Field(description="Seconds until the token expires.")


class TokenRequest(BaseModel):
    """Form fields of the client-credentials grant (RFC 6749 §4.4)."""

    grant_type: Literal["client_credentials"]
    client_id: str | None = Field(None, description="Or send id and secret by HTTP Basic.")
    client_secret: str | None = None


AuditOutcome = TypeAliasType(
    "AuditOutcome",
    Annotated[
        Literal["success", "refused", "error"],
        Field(
            title="AuditOutcome",
            description="How the request ended: `success` (below 400), `refused` (4xx) or `error` (5xx).",
        ),
    ],
)


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    request_id: str = Field(description="The id the platform gave the request (`X-Request-ID` of its answer).")
    correlation_id: str | None = Field(
        description="The client's own `X-Correlation-ID` (or `X-Request-ID`), when it sent a usable one."
    )
    source_ip: str | None = Field(
        description="The client's address: the peer's, or the nearest `X-Forwarded-For` hop that is not a "
        "trusted proxy (`GATEWAY_TRUSTED_PROXIES`)."
    )
    client_id: str | None
    kind: ClientKind | None
    method: str
    path: str
    status: int
    outcome: AuditOutcome


class AuditEventPage(Page[AuditEventPublic]):
    """A page of audit events, newest first."""


class Health(BaseModel):
    status: Literal["ok"]
    service: str


GatewayReadiness = TypeAliasType(
    "GatewayReadiness",
    Annotated[
        Literal["ready", "degraded"],
        Field(
            title="GatewayReadiness",
            description="`ready`: every upstream is; `degraded`: some are not, and their routes answer 503.",
        ),
    ],
)


class Readiness(BaseModel):
    status: GatewayReadiness
    upstreams: dict[str, str] = Field(description="Each upstream service and whether it is ready.")


class MissingPart(BaseModel):
    part: str
    upstream: str = Field(description="The service the part comes from.")
    status: int | None = Field(description="What it answered; null when it did not answer.")
    reason: str | None


class Scorecard(BaseModel):
    """A PCN's scorecard, composed from the three services as the caller sees them. A part a service
    could not give is null and listed in `parts_missing`."""

    pcn_code: str
    pcn_name: str | None
    icb_code: str | None
    list_size: int | None
    fy: str
    as_of: date
    budget: list[dict[str, Any]] | None = Field(description="The year's pots (budget service).")
    forecast: list[dict[str, Any]] | None = Field(description="Projected outturn and lapse per pot (budget service).")
    posts_by_role: list[dict[str, Any]] | None = Field(description="Posts in post and their WTE, per role.")
    kpi_attainment: dict[str, Any] | None = Field(description="Active KPIs by latest status, overdue, flagged posts.")
    at_risk_posts: dict[str, Any] | None = Field(description="Posts at risk and every reason.")
    workload_shift: list[dict[str, Any]] | None = Field(description="Each role's latest workload-shift estimate.")
    true_cost: dict[str, Any] | None = Field(description="The year's true cost, gap and cost per appointment.")
    readiness: dict[str, Any] | None = Field(description="Operating-plan readiness in summary.")
    parts_missing: list[MissingPart]


class ScorecardRow(BaseModel):
    pcn_code: str
    pcn_name: str
    list_size: int
    allocated_pence: int | None
    available_pence: int | None
    paid_pence: int | None
    posts_in_post: int | None
    posts_at_risk: int | None
    flagged_posts: int | None
    overdue_kpis: int | None
    readiness_percent_in_place: str | None


class ScorecardPage(Page[ScorecardRow]):
    """A page of an ICB's PCNs, one scorecard row each, by PCN code."""

    icb_code: str
    fy: str
    as_of: date
    parts_missing: list[MissingPart]
