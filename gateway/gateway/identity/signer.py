"""How the gateway vouches for a caller upstream: the signed principal headers for one request
(:mod:`arrs_kit.principal`), under the secret the gateway shares with the services.

It signs with ``ARRS_GATEWAY_SECRET`` alone, never with ``ARRS_GATEWAY_SECRETS_ACCEPTED``: those are
only accepted by the services, so the secret rotates in three steps without a refused request
(README, Runbook: accept the new secret everywhere, then sign with it, then drop the old one)."""

from __future__ import annotations

from arrs_kit.principal import EMPTY_BODY_DIGEST, Principal, principal_headers


class Signer:
    def __init__(self, gateway_secret: str) -> None:
        self._secret = gateway_secret

    def for_request(
        self,
        principal: Principal,
        path: str,
        query: str,
        request_id: str,
        *,
        method: str = "GET",
        body_digest: bytes = EMPTY_BODY_DIGEST,
    ) -> list[tuple[str, str]]:
        """The signed principal headers for a request to ``path`` with the raw ``query`` as sent."""
        signed = principal_headers(
            principal,
            self._secret,
            method=method,
            path=path,
            query=query,
            body_digest=body_digest,
            request_id=request_id,
        )
        return list(signed.items())
