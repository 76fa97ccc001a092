"""Who is calling: the bootstrap admin key, API clients' keys, and bearer tokens, as a :class:`Principal`."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from arrs_kit.principal import Principal, principal_headers
from gateway.identity import ClientDirectory, FailureThrottle, TokenIssuer, matches, split_api_key

BOOTSTRAP_ADMIN = Principal(kind="admin", client_id="bootstrap-admin")

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

    async def authenticate(self, headers: list[tuple[bytes, bytes]]) -> Principal | AuthFailure:
        api_key = _header(headers, b"x-api-key", b"apikey")
        if api_key is not None:
            return await self._by_api_key(api_key)
        authorization = _header(headers, b"authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and token:
                return await self._by_token(token.strip())
            return AuthFailure(401, "Authorization must be 'Bearer <token>'.")
        return AuthFailure(401, "Send an API key in X-API-Key, or a bearer token from POST /v1/oauth/token.")

    async def _by_api_key(self, api_key: str) -> Principal | AuthFailure:
        if hmac.compare_digest(api_key.encode(), self._admin_key):
            return BOOTSTRAP_ADMIN
        parts = split_api_key(api_key)
        if parts is None:
            return AuthFailure(401, "The API key is not valid.")
        key_id, secret = parts
        identity = "key:" + key_id
        retry_after = self.throttle.retry_after(identity)
        if retry_after is not None:
            return AuthFailure(429, "Too many failed attempts with this key; wait and retry.", retry_after)
        record = await self.directory.by_key_id(key_id)
        if record is None or not matches(secret, record.key_salt, record.key_hash):
            self.throttle.failed(identity)
            return AuthFailure(401, "The API key is not valid.")
        if record.revoked:
            return AuthFailure(401, "This API client has been revoked.")
        return record.principal

    async def _by_token(self, token: str) -> Principal | AuthFailure:
        claims = self.issuer.verify(token)
        if claims is None:
            return AuthFailure(401, "The bearer token is not valid or has expired.")
        record = await self.directory.by_id(str(claims["sub"]))
        if record is None or record.revoked:
            return AuthFailure(401, "This API client has been revoked.")
        return record.principal

    def forwarded_headers(self, principal: Principal, method: str, path: str) -> list[tuple[bytes, bytes]]:
        """The signed principal headers for one upstream request."""
        signed = principal_headers(principal, self._secret, method=method, path=path)
        return [(k.encode(), v.encode()) for k, v in signed.items()]
