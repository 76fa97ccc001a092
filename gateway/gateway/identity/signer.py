"""How the gateway vouches for a caller upstream: the signed principal headers for one request
(:mod:`arrs_kit.principal`), under the secret the gateway shares with the services."""

from __future__ import annotations

import httpx

from arrs_kit.principal import Principal, principal_headers


class Signer:
    def __init__(self, gateway_secret: str) -> None:
        self._secret = gateway_secret

    def headers(self, principal: Principal, request: httpx.Request, body_digest: bytes) -> list[tuple[str, str]]:
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
