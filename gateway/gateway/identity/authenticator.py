"""The one place credentials are checked: the bootstrap admin key, API clients' keys and bearer tokens
on every proxied request, and client id and secret at the token endpoint. Failures are counted by the
throttle wherever they happen."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from arrs_kit.principal import Principal
from gateway.identity.clients import ClientDirectory, ClientRecord
from gateway.identity.credentials import matches, split_api_key
from gateway.identity.throttle import FailureThrottle
from gateway.identity.tokens import TokenIssuer
from gateway.kinds import ADMIN

BOOTSTRAP_ADMIN = Principal(kind=ADMIN, client_id="bootstrap-admin", name="bootstrap-admin")

WWW_AUTHENTICATE = 'ApiKey realm="arrs", header="X-API-Key", Bearer realm="arrs"'
TOO_MANY_FAILURES = "Too many failed attempts from this address; wait and retry."
CLIENT_ID_MAX = 64  # longer client ids are never looked up (nor counted beyond this many characters)


@dataclass(frozen=True, slots=True)
class AuthFailure:
    status: int  # 401, or 429 after too many failures
    detail: str
    retry_after: int | None = None


def _header(headers: list[tuple[bytes, bytes]], *names: bytes) -> str | None:
    for key, value in headers:
        if key in names:
            return value.decode("latin-1")
    return None


class Authenticator:
    def __init__(
        self,
        *,
        admin_api_key: str,
        directory: ClientDirectory,
        issuer: TokenIssuer,
        throttle: FailureThrottle,
    ) -> None:
        self._admin_key = admin_api_key.encode()
        self.directory = directory
        self.issuer = issuer
        self.throttle = throttle

    async def authenticate(self, headers: list[tuple[bytes, bytes]], source: str) -> Principal | AuthFailure:
        """Who sent ``headers`` from ``source`` (the client's address), or why not."""
        api_key = _header(headers, b"x-api-key", b"apikey")
        if api_key is not None:
            return await self._by_api_key(api_key, source)
        authorization = _header(headers, b"authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token:
                return await self._by_token(token.strip(), source)
            return AuthFailure(401, "Authorization must be 'Bearer <token>'.")
        return AuthFailure(401, "Send an API key in X-API-Key, or a bearer token from POST /v1/oauth/token.")

    async def client_credentials(self, client_id: str, client_secret: str, source: str) -> ClientRecord | AuthFailure:
        """The client a token request from ``source`` authenticates as (OAuth client credentials), or
        why not: 429 while throttled, 401 for an unknown, revoked or wrong client (each counted)."""
        identity = "client:" + client_id[:CLIENT_ID_MAX]
        throttled = self._throttled(source, identity)
        if throttled is not None:
            return throttled
        record = await self.directory.by_id(client_id) if len(client_id) <= CLIENT_ID_MAX else None
        if record is None or record.revoked or not matches(client_secret, record.secret_salt, record.secret_hash):
            self.throttle.failed(source, identity)
            return AuthFailure(401, "Client authentication failed.")
        return record

    def _throttled(self, source: str, identity: str | None = None) -> AuthFailure | None:
        retry_after = self.throttle.retry_after(source, identity)
        if retry_after is None:
            return None
        return AuthFailure(429, TOO_MANY_FAILURES, retry_after)

    async def _by_api_key(self, api_key: str, source: str) -> Principal | AuthFailure:
        parts = split_api_key(api_key)
        identity = "key:" + parts[0] if parts else None
        throttled = self._throttled(source, identity)
        if throttled is not None:
            return throttled
        if hmac.compare_digest(api_key.encode(), self._admin_key):
            return BOOTSTRAP_ADMIN
        if parts is None:
            self.throttle.failed(source)
            return AuthFailure(401, "The API key is not valid.")
        key_id, secret = parts
        record = await self.directory.by_key_id(key_id)
        if record is None or not matches(secret, record.key_salt, record.key_hash):
            self.throttle.failed(source, identity)
            return AuthFailure(401, "The API key is not valid.")
        if record.revoked:
            return AuthFailure(401, "This API client has been revoked.")
        return record.principal

    async def _by_token(self, token: str, source: str) -> Principal | AuthFailure:
        throttled = self._throttled(source)
        if throttled is not None:
            return throttled
        claims = self.issuer.verify(token)
        if claims is None:
            self.throttle.failed(source)
            return AuthFailure(401, "The bearer token is not valid or has expired.")
        record = await self.directory.by_id(str(claims["sub"]))
        if record is None or record.revoked:
            return AuthFailure(401, "This API client has been revoked.")
        return record.principal
