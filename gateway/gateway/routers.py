"""The gateway's own endpoints: API clients, OAuth tokens and the audit log."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import CursorQuery, LimitQuery
from arrs_kit.problems import problem_response, problem_responses
from arrs_kit.types import BoundedDate
from gateway import service
from gateway.deps import AdminDep, gateway_of
from gateway.identity.authenticator import AuthFailure
from gateway.schemas import AuditEventPage, ClientCreate, ClientCreated, ClientPage, TokenResponse

router = APIRouter(prefix="/v1")


@router.post(
    "/clients",
    tags=["clients"],
    operation_id="create_client",
    summary="Create an API client",
    status_code=201,
    response_model=ClientCreated,
    responses=problem_responses(403, 422),
)
def create_client(
    data: ClientCreate, session: WriteSessionDep, principal: AdminDep, response: Response
) -> ClientCreated:
    """Admin: create an API client bound to its organisations. The answer holds the API key and the
    OAuth client secret; they are shown this once and only their salted hashes are kept."""
    created = service.create_client(session=session, data=data, actor=principal)
    response.headers["Location"] = f"/v1/clients/{created.client.id}"
    return ClientCreated(**created.client.model_dump(), api_key=created.api_key, client_secret=created.client_secret)


@router.get(
    "/clients",
    tags=["clients"],
    operation_id="list_clients",
    summary="List API clients",
    response_model=ClientPage,
    responses=problem_responses(403, 422),
)
def list_clients(
    session: ReadSessionDep, _admin: AdminDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> ClientPage:
    """Admin: every API client, revoked ones included (with `revoked_at`), oldest first."""
    return service.list_clients(session=session, limit=limit, cursor=cursor)


ClientIdPath = Annotated[str, Path(pattern=r"^cl_[0-9a-f]{32}$", description="The client's id.")]


@router.delete(
    "/clients/{client_id}",
    tags=["clients"],
    operation_id="revoke_client",
    summary="Revoke an API client",
    status_code=204,
    responses=problem_responses(403, 404, 422),
)
def revoke_client(client_id: ClientIdPath, request: Request, session: WriteSessionDep, principal: AdminDep) -> Response:
    """Admin: revoke a client. Its API key and every token issued to it stop working at once
    (on other gateway replicas within `GATEWAY_CREDENTIAL_CACHE_S`). Revoking again changes nothing."""
    service.revoke_client(
        session=session, client_id=client_id, actor=principal, directory=gateway_of(request).directory
    )
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


def _refused(failure: AuthFailure) -> JSONResponse:
    if failure.status == 429:
        return _oauth_error(429, "slow_down", failure.detail, {"Retry-After": str(failure.retry_after)})
    return _oauth_error(401, "invalid_client", failure.detail, {"WWW-Authenticate": 'Basic realm="arrs"'})


TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "const": "client_credentials"},
                        "client_id": {"type": "string", "description": "Or send id and secret by HTTP Basic."},
                        "client_secret": {"type": "string"},
                    },
                },
                "example": {
                    "grant_type": "client_credentials",
                    "client_id": "cl_4f9e2b7c1d3a4e5f8a6b9c0d1e2f3a4b",
                    "client_secret": "arrs_fedcba9876543210.an-example-secret-shown-once-only",
                },
            }
        },
    },
    "security": [],
}


@router.post(
    "/oauth/token",
    tags=["oauth"],
    operation_id="issue_token",
    summary="Issue an access token (client credentials)",
    response_model=TokenResponse,
    responses=merge_responses(
        problem_responses(400, 401, 429),
        response_headers("Cache-Control", "Pragma"),
        response_headers("Cache-Control", on=(400, 401, 429)),
    ),
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
    source: str = request.scope["state"].get("source", "")
    record = await gateway.auth.client_credentials(client_id, client_secret, source)
    if isinstance(record, AuthFailure):
        return _refused(record)
    request.scope["state"]["principal"] = record.principal
    request.scope["state"]["principal_id"] = record.id
    body = TokenResponse(access_token=gateway.issuer.issue(record), expires_in=gateway.issuer.ttl_s)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def _audit_written(request: Request) -> None:
    """The events this replica has recorded are written before the log is read."""
    await request.app.state.gateway.audit.flush()


@router.get(
    "/audit-events",
    tags=["audit"],
    operation_id="list_audit_events",
    summary="List audit events",
    response_model=AuditEventPage,
    responses=problem_responses(403, 422),
    dependencies=[Depends(_audit_written)],
)
def list_audit_events(
    session: ReadSessionDep,
    _admin: AdminDep,
    client_id: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    since: Annotated[BoundedDate | None, Query(description="Only events on or after this day (UTC).")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> AuditEventPage:
    """Admin: state-changing requests through the gateway, newest first: who, what, when, the
    request id and the outcome (`success`, `refused`, `error`). An event is written a moment after
    its answer; this read first waits for the events the answering gateway replica has recorded."""
    return service.list_audit_events(session=session, client_id=client_id, since=since, limit=limit, cursor=cursor)
