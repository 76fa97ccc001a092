"""The gateway's own tables: API clients (only salted hashes of their credentials) and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, String
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from arrs_kit.db import UtcDateTime
from gateway.kinds import CLIENT_KINDS


class GatewayBase(SQLModel, registry=registry()):
    """Own metadata registry: the gateway's tables and nobody else's."""


metadata = GatewayBase.metadata


def _ts(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UtcDateTime, nullable=nullable)


class ApiClient(GatewayBase, table=True):
    __tablename__ = "api_client"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in CLIENT_KINDS)})", name="ck_api_client_kind"),
    )

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    org_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # The API key is `arrs_<key_id>.<secret>`: key_id finds the row, the secret is checked against
    # its salted hash. The OAuth client secret is stored the same way. Neither is ever stored.
    key_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    key_salt: str = Field(sa_column=Column(String(64), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False))
    secret_salt: str = Field(sa_column=Column(String(64), nullable=False))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    revoked_by: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))


class AuditEvent(GatewayBase, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_client_at", "client_id", "at"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    at: datetime = Field(sa_column=_ts())
    request_id: str = Field(sa_column=Column(String(128), nullable=False))
    correlation_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    source_ip: str | None = Field(default=None, sa_column=Column(String(45), nullable=True))
    client_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    kind: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    method: str = Field(sa_column=Column(String(10), nullable=False))
    path: str = Field(sa_column=Column(String(500), nullable=False))
    status: int
    outcome: str = Field(sa_column=Column(String(10), nullable=False))
