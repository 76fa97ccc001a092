"""The gateway's own endpoints: API clients, OAuth tokens, the audit log, health and the merged OpenAPI."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlmodel import col

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.pagination import CursorQuery, LimitQuery, decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from arrs_kit.problems import Forbidden, NotFound, Unauthenticated, problem_response, problem_responses
from arrs_kit.types import BoundedDate
from gateway.identity import ClientRecord, matches, new_api_key, new_client_id, new_salted_hash, now_utc
from gateway.kinds import ADMIN
from gateway.models import ApiClient
from gateway.schemas import (
    AuditEventPage,
    AuditEventPublic,
    ClientCreate,
    ClientCreated,
    ClientPage,
    ClientPublic,
    TokenResponse,
)

if TYPE_CHECKING:
    from gateway.main import Gateway

router = APIRouter(prefix="/v1")


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def current_principal(request: Request) -> Principal:
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is None:  # the dispatcher authenticates every /v1 request first
        raise Unauthenticated("Authentication required.")
    return principal


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.kind != ADMIN:
        raise Forbidden("Only an admin client may manage API clients and read the audit log.")
    return principal


AdminDep = Annotated[Principal, Depends(admin_principal)]


def _public(row: ApiClient) -> ClientPublic:
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


@router.post(
    "/clients",
    tags=["clients"],
    operation_id="create_client",
    status_code=201,
    response_model=ClientCreated,
    responses=problem_responses(403, 422),
)
def create_client(
    data: ClientCreate, session: WriteSessionDep, principal: AdminDep, response: Response
) -> ClientCreated:
    """Admin: create an API client bound to its organisations. The answer holds the API key and the
    OAuth client secret; they are shown this once and only their salted hashes are kept."""
    key_id, api_key = new_api_key()
    _, client_secret = new_api_key()
    key_salt, key_hash = new_salted_hash(api_key.partition(".")[2])
    secret_salt, secret_hash = new_salted_hash(client_secret)
    row = ApiClient(
        id=new_client_id(),
        name=data.name,
        kind=data.kind,
        org_codes=data.org_codes,
        key_id=key_id,
        key_salt=key_salt,
        key_hash=key_hash,
        secret_salt=secret_salt,
        secret_hash=secret_hash,
        created_at=now_utc(),
        created_by=principal.client_id,
    )
    session.add(row)
    session.commit()
    response.headers["Location"] = f"/v1/clients/{row.id}"
    return ClientCreated(**_public(row).model_dump(), api_key=api_key, client_secret=client_secret)


@router.get(
    "/clients",
    tags=["clients"],
    operation_id="list_clients",
    response_model=ClientPage,
    responses=problem_responses(403, 422),
)
def list_clients(
    session: ReadSessionDep, _admin: AdminDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> ClientPage:
    """Admin: every API client, revoked ones included (with `revoked_at`), oldest first."""
    after = decode_cursor(cursor, 1)
    stmt = select(ApiClient).order_by(col(ApiClient.id)).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(col(ApiClient.id) > str(after[0]))
    page, next_cursor = next_cursor_for(list(session.scalars(stmt).all()), limit, lambda r: (r.id,))
    return ClientPage(data=[_public(r) for r in page], next_cursor=next_cursor)


ClientIdPath = Annotated[str, Path(pattern=r"^cl_[0-9a-f]{32}$", description="The client's id.")]


@router.delete(
    "/clients/{client_id}",
    tags=["clients"],
    operation_id="revoke_client",
    status_code=204,
    responses=problem_responses(403, 404, 422),
)
def revoke_client(client_id: ClientIdPath, request: Request, session: WriteSessionDep, principal: AdminDep) -> Response:
    """Admin: revoke a client. Its API key and every token issued to it stop working at once
    (on other gateway replicas within `GATEWAY_CREDENTIAL_CACHE_S`). Revoking again changes nothing."""
    row = session.scalars(select(ApiClient).where(col(ApiClient.id) == client_id).with_for_update()).one_or_none()
    if row is None:
        raise NotFound(f"No API client {client_id}.", code="client-not-found")
    if row.revoked_at is None:
        row.revoked_at = now_utc()
        row.revoked_by = principal.client_id
        session.commit()
    gateway_of(request).directory.forget(row)
    return Response(status_code=204)


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return problem_response(
        status=status,
        code=error.replace("_", "-"),
        title="The token request was refused",
        detail=description,
        instance="/v1/oauth/token",
        headers={"Cache-Control": "no-store", **(headers or {})},
        extra={"error": error, "error_description": description},
    )


TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string", "description": "Or send id and secret by HTTP Basic."},
                        "client_secret": {"type": "string"},
                    },
                }
            }
        },
    },
    "security": [],
}


@router.post(
    "/oauth/token",
    tags=["oauth"],
    operation_id="issue_token",
    response_model=TokenResponse,
    responses=problem_responses(400, 401, 429),
    openapi_extra=TOKEN_FORM,
)
async def issue_token(request: Request) -> JSONResponse:
    """OAuth 2.0 client credentials: form-encoded `grant_type=client_credentials` with `client_id` and
    `client_secret` (or HTTP Basic) → a bearer token. Errors carry OAuth's `error` and
    `error_description` beside the problem fields."""
    gateway = gateway_of(request)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "Send the form as application/x-www-form-urlencoded.")
    form = await request.form()
    grant_type = form.get("grant_type")
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(400, "invalid_request", "The Basic credentials could not be read.")
        basic_id, _, basic_secret = decoded.partition(":")
        client_id, client_secret = unquote(basic_id), unquote(basic_secret)
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        return _oauth_error(400, "invalid_request", "client_id and client_secret are required.")
    identity = "client:" + client_id[:64]
    source: str = request.scope["state"].get("source", "")
    retry_after = gateway.throttle.retry_after(source, identity)
    if retry_after is not None:
        return _oauth_error(
            429,
            "slow_down",
            "Too many failed attempts from this address; wait and retry.",
            {"Retry-After": str(retry_after)},
        )
    record: ClientRecord | None = await gateway.directory.by_id(client_id) if len(client_id) <= 64 else None

    if record is None or record.revoked or not matches(client_secret, record.secret_salt, record.secret_hash):
        gateway.throttle.failed(source, identity)
        return _oauth_error(
            401, "invalid_client", "Client authentication failed.", {"WWW-Authenticate": 'Basic realm="arrs"'}
        )
    request.scope["state"]["principal"] = record.principal
    request.scope["state"]["principal_id"] = record.id
    body = TokenResponse(access_token=gateway.issuer.issue(record), expires_in=gateway.issuer.ttl_s)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get(
    "/audit-events",
    tags=["audit"],
    operation_id="list_audit_events",
    response_model=AuditEventPage,
    responses=problem_responses(403, 422),
)
async def list_audit_events(
    request: Request,
    _admin: AdminDep,
    client_id: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    since: Annotated[BoundedDate | None, Query(description="Only events on or after this day (UTC).")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> AuditEventPage:
    """Admin: state-changing requests through the gateway, newest first: who, what, when, the
    request id and the outcome (`success`, `refused`, `error`)."""
    after = decode_cursor(cursor, int)
    since_at = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    rows = await anyio.to_thread.run_sync(
        lambda: gateway_of(request).audit.list(
            client_id=client_id, since=since_at, before_id=int(after[0]) if after else None, limit=limit + 1
        )
    )
    page, next_cursor = next_cursor_for(list(rows), limit, lambda r: (r.id,))
    return AuditEventPage(
        data=[AuditEventPublic.model_validate(r, from_attributes=True) for r in page], next_cursor=next_cursor
    )
