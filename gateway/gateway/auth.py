"""Who is calling: the credentials the gateway accepts, turned into a :class:`Principal`.

This first cut knows the bootstrap admin key (``ARRS_ADMIN_API_KEY``), compared in constant time.
API clients and bearer tokens come with the identity work.
"""

from __future__ import annotations

import hmac

from arrs_kit.principal import Principal, principal_headers

BOOTSTRAP_ADMIN = Principal(kind="admin", client_id="bootstrap-admin")

WWW_AUTHENTICATE = 'ApiKey realm="arrs", header="X-API-Key"'


class Authenticator:
    def __init__(self, *, admin_api_key: str, gateway_secret: str) -> None:
        self._admin_key = admin_api_key.encode()
        self._secret = gateway_secret

    def authenticate(self, api_key: str | None) -> Principal | None:
        if not api_key:
            return None
        if hmac.compare_digest(api_key.encode(), self._admin_key):
            return BOOTSTRAP_ADMIN
        return None

    def forwarded_headers(self, principal: Principal, method: str, path: str) -> list[tuple[bytes, bytes]]:
        """The signed principal headers for one upstream request."""
        signed = principal_headers(principal, self._secret, method=method, path=path)
        return [(k.encode(), v.encode()) for k, v in signed.items()]
