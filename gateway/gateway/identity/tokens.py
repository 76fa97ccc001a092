"""Bearer tokens: JWTs (HS256) with a key id, issued to a client and verified on every request.

Every configured key verifies and one signs, so keys rotate without downtime. A token names its
client; a revoked client's tokens stop working at once (the client it names is looked up on every
request). A token that verified is remembered until it expires, so its signature is checked once, not
on every request.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from gateway.identity.clients import ClientRecord

TOKEN_ISSUER = "arrs-gateway"  # noqa: S105 - names, not secrets
TOKEN_AUDIENCE = "arrs"  # noqa: S105


class TokenIssuer:
    VERIFIED_MAX = 10_000  # tokens remembered at once (bounds the memory; emptied when full)

    def __init__(self, keys: dict[str, str], signing_key_id: str, ttl_s: int) -> None:
        self.keys = keys
        self.signing_key_id = signing_key_id
        self.ttl_s = ttl_s
        # token -> (key id, key, claims) for tokens whose signature verified: a forged or guessed
        # token is never remembered, and the whole token is the key, so any change to it misses.
        self._verified: dict[str, tuple[str, str, dict[str, Any]]] = {}

    def issue(self, record: ClientRecord) -> str:
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "aud": TOKEN_AUDIENCE,
            "sub": record.id,
            "kind": record.kind,
            "orgs": list(record.org_codes),
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            claims, self.keys[self.signing_key_id], algorithm="HS256", headers={"kid": self.signing_key_id}
        )

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this gateway issued and that has not expired, else None."""
        hit = self._verified.get(token)
        if hit is not None:
            # Still good until `exp`; if its key was changed or removed, it is verified afresh.
            if self.keys.get(hit[0]) == hit[1] and time.time() < hit[2]["exp"]:
                return hit[2]
            del self._verified[token]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=TOKEN_AUDIENCE,
                issuer=TOKEN_ISSUER,
                options={"require": ["exp", "iat", "sub", "kind"]},
            )
        except jwt.PyJWTError:
            return None
        if len(self._verified) >= self.VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (str(kid), key, claims)
        return claims
