"""The gateway's own endpoints' rules and transactions: API clients and the audit log. Routers call
these; these call the repository and commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from arrs_kit.pagination import decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from arrs_kit.problems import NotFound
from gateway import repository
from gateway.clock import now_utc
from gateway.identity.clients import ClientDirectory
from gateway.identity.credentials import new_client_id, new_credentials
from gateway.models import ApiClient
from gateway.schemas import AuditEventPage, AuditEventPublic, ClientCreate, ClientPage, ClientPublic


@dataclass(frozen=True, slots=True)
class CreatedClient:
    """A new client and its two secrets, which are shown this once and never stored."""

    client: ClientPublic
    api_key: str
    client_secret: str


def public(row: ApiClient) -> ClientPublic:
    return ClientPublic(
        id=row.id,
        client_id=row.id,
        name=row.name,
        kind=row.kind,
        org_codes=list(row.org_codes),
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


def create_client(*, session: Session, data: ClientCreate, actor: Principal) -> CreatedClient:
    """Register a client bound to its organisations, with a new API key and OAuth client secret of
    which only salted hashes are kept."""
    credentials = new_credentials()
    row = ApiClient(
        id=new_client_id(),
        name=data.name,
        kind=data.kind,
        org_codes=data.org_codes,
        key_id=credentials.key_id,
        key_salt=credentials.key_salt,
        key_hash=credentials.key_hash,
        secret_salt=credentials.secret_salt,
        secret_hash=credentials.secret_hash,
        created_at=now_utc(),
        created_by=actor.client_id,
    )
    repository.add(session, row)
    session.commit()
    return CreatedClient(public(row), credentials.api_key, credentials.client_secret)


def list_clients(*, session: Session, limit: int, cursor: str | None) -> ClientPage:
    """Every client, revoked ones included, oldest first."""
    after = decode_cursor(cursor, 1)
    rows = repository.clients_after(session, after_id=str(after[0]) if after is not None else None, limit=limit + 1)
    page, next_cursor = next_cursor_for(list(rows), limit, lambda r: (r.id,))
    return ClientPage(data=[public(r) for r in page], next_cursor=next_cursor)


def revoke_client(*, session: Session, client_id: str, actor: Principal, directory: ClientDirectory) -> None:
    """Revoke a client (again: no change) and stop trusting it on this replica at once."""
    row = repository.client_for_update(session, client_id)
    if row is None:
        raise NotFound(f"No API client {client_id}.", code="client-not-found")
    if row.revoked_at is None:
        row.revoked_at = now_utc()
        row.revoked_by = actor.client_id
        session.commit()
    directory.forget(row)


def list_audit_events(
    *, session: Session, client_id: str | None, since: date | None, limit: int, cursor: str | None
) -> AuditEventPage:
    """Audit events, newest first, of one client and from one day (UTC) if asked."""
    after = decode_cursor(cursor, int)
    since_at = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    rows = repository.audit_events_before(
        session, client_id=client_id, since=since_at, before_id=int(after[0]) if after else None, limit=limit + 1
    )
    page, next_cursor = next_cursor_for(list(rows), limit, lambda r: (r.id,))
    return AuditEventPage(
        data=[AuditEventPublic.model_validate(r, from_attributes=True) for r in page], next_cursor=next_cursor
    )
