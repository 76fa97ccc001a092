"""The registered API clients as authentication needs them: read from the gateway's database through
a short cache.

Looked-up clients are cached for ``credential_cache_s``; revoking through this replica drops the entry
at once, other replicas read it again within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio.to_thread

from arrs_kit.db import Database
from arrs_kit.principal import Principal
from gateway import repository
from gateway.models import ApiClient


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

    def _load(self, *, key_id: str | None = None, client_id: str | None = None) -> ClientRecord | None:
        with self.db.reader() as session:
            if key_id is not None:
                row = repository.client_by_key_id(session, key_id)
            else:
                row = repository.client_by_id(session, str(client_id))
            return ClientRecord.of(row) if row is not None else None

    async def _cached(
        self,
        cache: dict[str, tuple[float, ClientRecord | None]],
        key: str,
        *,
        key_id: str | None = None,
        client_id: str | None = None,
    ) -> ClientRecord | None:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        record = await anyio.to_thread.run_sync(lambda: self._load(key_id=key_id, client_id=client_id))
        if len(cache) > 10_000:  # unknown ids from guessing clients must not grow it without bound
            cache.clear()
        cache[key] = (now, record)
        return record

    async def by_key_id(self, key_id: str) -> ClientRecord | None:
        return await self._cached(self._by_key, key_id, key_id=key_id)

    async def by_id(self, client_id: str) -> ClientRecord | None:
        return await self._cached(self._by_id, client_id, client_id=client_id)

    def forget(self, record: ClientRecord | ApiClient) -> None:
        """Drop a client from the cache (after revocation: this replica stops trusting it at once)."""
        self._by_key.pop(record.key_id, None)
        self._by_id.pop(record.id, None)
