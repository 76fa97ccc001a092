"""Who is calling: the bootstrap admin key, API clients' keys, and bearer tokens, as a :class:`Principal`."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import httpx

from arrs_kit.principal import Principal, principal_headers
from gateway.identity import ClientDirectory, FailureThrottle, TokenIssuer, matches, split_api_key
from gateway.kinds import ADMIN

BOOTSTRAP_ADMIN = Principal(kind=ADMIN, client_id="bootstrap-admin", name="bootstrap-admin")

WWW_AUTHENTICATE = 'ApiKey realm="arrs", header="X-API-Key", Bearer realm="arrs"'


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
        gateway_secret: str,
        directory: ClientDirectory,
        issuer: TokenIssuer,
        throttle: FailureThrottle,
    ) -> None:
        self._admin_key = admin_api_key.encode()
        self._secret = gateway_secret
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

    def _throttled(self, source: str, identity: str | None = None) -> AuthFailure | None:
        retry_after = self.throttle.retry_after(source, identity)
        if retry_after is None:
            return None
        return AuthFailure(429, "Too many failed attempts from this address; wait and retry.", retry_after)

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

    def signed_headers(self, principal: Principal, request: httpx.Request, body_digest: bytes) -> list[tuple[str, str]]:
        """The signed principal headers for ``request`` exactly as it will be sent upstream."""
        signed = principal_headers(
            principal,
            self._secret,
            method=request.method,
            path=request.url.path,
            query=request.url.query.decode("latin-1"),
            body_digest=body_digest,
            request_id=request.headers.get("x-request-id", ""),
        )
        return list(signed.items())
