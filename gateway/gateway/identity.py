"""Credentials: API keys, OAuth client secrets and bearer tokens, checked in constant time.

- An API key is ``arrs_<key_id>.<secret>``; a client secret is a random token. Only salted SHA-256
  hashes are stored (the secrets are 256-bit random values, so a slow hash adds nothing).
- Bearer tokens are JWTs (HS256) with a key id: every configured key verifies, one signs, so keys
  rotate without downtime. A token names its client; a revoked client's tokens stop working at once.
  A token that verified is remembered until it expires, so its signature is checked once, not on
  every request; the client it names is still looked up on every request.
- Looked-up clients are cached for ``credential_cache_s``; revoking through this replica drops the
  entry at once, other replicas read it again within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import jwt
from sqlalchemy import select

from arrs_kit.db import Database
from arrs_kit.principal import Principal
from gateway.models import ApiClient

KEY_PREFIX = "arrs_"
TOKEN_ISSUER = "arrs-gateway"  # noqa: S105 - names, not secrets
TOKEN_AUDIENCE = "arrs"  # noqa: S105


def _digest(secret: str, salt: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def new_salted_hash(secret: str) -> tuple[str, str]:
    salt = secrets.token_hex(16)
    return salt, _digest(secret, salt)


def matches(secret: str, salt: str, expected: str) -> bool:
    return hmac.compare_digest(_digest(secret, salt), expected)


def new_client_id() -> str:
    """``cl_`` + 32 hex digits, the first 12 the creation time in ms, so ids sort by age."""
    return f"cl_{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def new_api_key() -> tuple[str, str]:
    """A new ``(key_id, api_key)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"


def split_api_key(api_key: str) -> tuple[str, str] | None:
    if not api_key.startswith(KEY_PREFIX) or "." not in api_key:
        return None
    key_id, _, secret = api_key[len(KEY_PREFIX) :].partition(".")
    if not key_id or not secret or len(api_key) > 200:
        return None
    return key_id, secret


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: str
    name: str
    kind: str
    org_codes: tuple[str, ...]
    key_id: str
    key_salt: str
    key_hash: str
    secret_salt: str
    secret_hash: str
    revoked: bool

    @property
    def principal(self) -> Principal:
        return Principal(kind=self.kind, client_id=self.id, org_codes=self.org_codes, name=self.name)

    @classmethod
    def of(cls, row: ApiClient) -> ClientRecord:
        return cls(
            id=row.id,
            name=row.name,
            kind=row.kind,
            org_codes=tuple(row.org_codes),
            key_id=row.key_id,
            key_salt=row.key_salt,
            key_hash=row.key_hash,
            secret_salt=row.secret_salt,
            secret_hash=row.secret_hash,
            revoked=row.revoked_at is not None,
        )


class ClientDirectory:
    """API clients by key id and by client id, read from the gateway's database and cached briefly."""

    def __init__(self, db: Database, *, cache_s: float) -> None:
        self.db = db
        self.cache_s = cache_s
        self._by_key: dict[str, tuple[float, ClientRecord | None]] = {}
        self._by_id: dict[str, tuple[float, ClientRecord | None]] = {}

    def _load(self, **where: str) -> ClientRecord | None:
        column = ApiClient.key_id if "key_id" in where else ApiClient.id
        with self.db.reader() as session:
            row = session.scalars(select(ApiClient).where(column == next(iter(where.values())))).one_or_none()  # type: ignore[arg-type]
        return ClientRecord.of(row) if row is not None else None

    async def _cached(
        self, cache: dict[str, tuple[float, ClientRecord | None]], key: str, **where: str
    ) -> ClientRecord | None:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        record = await anyio.to_thread.run_sync(lambda: self._load(**where))
        if len(cache) > 10_000:  # unknown ids from guessing clients must not grow it without bound
            cache.clear()
        cache[key] = (now, record)
        return record

    async def by_key_id(self, key_id: str) -> ClientRecord | None:
        return await self._cached(self._by_key, key_id, key_id=key_id)

    async def by_id(self, client_id: str) -> ClientRecord | None:
        return await self._cached(self._by_id, client_id, id=client_id)

    def forget(self, record: ClientRecord | ApiClient) -> None:
        """Drop a client from the cache (after revocation: this replica stops trusting it at once)."""
        self._by_key.pop(record.key_id, None)
        self._by_id.pop(record.id, None)


class FailureThrottle:
    """Counts failed authentications per source address, and per identity presented from that
    address; too many in a minute means 429 for that address only.

    Counting per identity alone would let anyone lock a client out by failing in its name (client
    ids are not secrets); counting per address means guesses are limited wherever they aim, the
    bootstrap admin key included, while the genuine client elsewhere still gets in."""

    WINDOW_S = 60.0

    def __init__(self, allowed: int, per_source: int) -> None:
        self.allowed = allowed
        self.per_source = per_source
        self._failures: dict[str, deque[float]] = {}

    def _wait(self, key: str, allowed: int) -> int | None:
        failures = self._failures.get(key)
        if not failures:
            return None
        now = time.monotonic()
        while failures and now - failures[0] > self.WINDOW_S:
            failures.popleft()
        if len(failures) < allowed:
            return None
        return max(1, int(self.WINDOW_S - (now - failures[0])) + 1)

    def retry_after(self, source: str, identity: str | None = None) -> int | None:
        """Seconds to wait before ``source`` may try again (presenting ``identity``), or None."""
        wait = self._wait("source:" + source, self.per_source)
        if wait is None and identity is not None:
            wait = self._wait(f"{source}|{identity}", self.allowed)
        return wait

    def failed(self, source: str, identity: str | None = None) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        now = time.monotonic()
        self._failures.setdefault("source:" + source, deque()).append(now)
        if identity is not None:
            self._failures.setdefault(f"{source}|{identity}", deque()).append(now)


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


def now_utc() -> datetime:
    return datetime.now(UTC)
