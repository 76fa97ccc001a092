"""Services trust a request's principal only when the gateway's signature over it holds, once.

:class:`SignedPrincipalMiddleware` runs before any route. For a request carrying principal headers it
checks, in order: the signature over method, path, query, time, nonce, body digest and request id
(:func:`arrs_kit.principal.verify_headers`); that the body matches the signed digest; and that the
nonce has not been seen in its freshness window. Only then does the route see a principal. A
request without principal headers passes through with none (health checks need none; every other
route refuses it with 401). Anything that fails answers 401 before the app runs.

Bodies up to ``buffer_bytes`` are read and checked before the app sees them. A larger body (a bulk
upload) streams to the app and is checked as it arrives: a mismatch raises at its last chunk, before
the route can have committed anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Protocol

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrs_kit.principal import SIGNATURE_HEADER, verify_headers
from arrs_kit.problems import PROBLEM_MEDIA_TYPE, problem_body

log = logging.getLogger("arrs.signed")

_SIGNED_NAMES = frozenset(
    {
        b"x-arrs-principal",
        b"x-arrs-principal-issued",
        b"x-arrs-principal-nonce",
        b"x-arrs-principal-signature",
        b"content-digest",
        b"x-request-id",
    }
)


class NonceStore(Protocol):
    async def first_use(self, nonce: str, fresh_until: float) -> bool:
        """True the first time ``nonce`` is presented before ``fresh_until`` (Unix time), else False."""
        ...

    async def aclose(self) -> None: ...


class NonceStoreUnavailable(Exception):
    pass


class MemoryNonces:
    """Nonces seen by this process, each kept until its signature could no longer be fresh.

    Entries leave in the order they came (every entry lives the same window), so the store holds
    at most the requests of one window. Replicas of a service each keep their own: use
    :class:`RedisNonces` when a service runs more than one replica."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def first_use(self, nonce: str, fresh_until: float) -> bool:
        now = time.time()
        while self._seen:
            oldest, until = next(iter(self._seen.items()))
            if until > now:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            return False
        self._seen[nonce] = fresh_until
        return True

    def __len__(self) -> int:
        return len(self._seen)

    async def aclose(self) -> None:
        self._seen.clear()


class RedisNonces:
    """Nonces shared by every replica: ``SET NX`` with an expiry at the end of the window."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # imported only when configured

        self._redis = redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def first_use(self, nonce: str, fresh_until: float) -> bool:
        try:
            stored = await self._redis.set(f"arrs:nonce:{nonce}", b"1", nx=True, exat=int(fresh_until) + 1)
        except Exception as exc:  # any failure of the store
            raise NonceStoreUnavailable(type(exc).__name__) from exc
        return bool(stored)

    async def aclose(self) -> None:
        await self._redis.aclose()


def nonce_store(redis_url: str | None) -> NonceStore:
    return RedisNonces(redis_url) if redis_url else MemoryNonces()


class BodyDigestMismatch(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            401, "The body is not the one the gateway signed.", {"WWW-Authenticate": 'ApiKey realm="arrs"'}
        )


async def _refuse(send: Send, scope: Scope, status: int, code: str, detail: str) -> None:
    body = json.dumps(problem_body(status=status, code=code, detail=detail, instance=scope.get("path"))).encode()
    headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'ApiKey realm="arrs"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SignedPrincipalMiddleware:
    """``kinds``: the principal kinds the service knows; a principal of another kind is refused like a
    bad signature (None: any kind, for a service that checks kinds itself). ``other_secrets``: secrets
    whose signatures are accepted besides ``secret``'s, while the shared secret is rotated."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        nonces: NonceStore,
        buffer_bytes: int = 1_048_576,
        kinds: Collection[str] | None = None,
        other_secrets: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.secret = secret
        self.other_secrets = tuple(s for s in other_secrets if s != secret)
        self.nonces = nonces
        self.buffer_bytes = buffer_bytes
        self.kinds = frozenset(kinds) if kinds is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        signed: dict[str, str] = {}
        length: int | None = None
        chunked = False
        for key, value in scope["headers"]:
            if key in _SIGNED_NAMES:
                signed.setdefault(key.decode(), value.decode("latin-1"))
            elif key == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif key == b"transfer-encoding":
                chunked = True
        state = scope.setdefault("state", {})
        if SIGNATURE_HEADER not in signed:
            await self.app(scope, receive, send)
            return
        request = verify_headers(
            signed,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            secret=self.secret,
            kinds=self.kinds,
            other_secrets=self.other_secrets,
        )
        if request is None or length == -1:
            await _refuse(send, scope, 401, "unauthenticated", "The gateway's signature on this request is not valid.")
            return
        if chunked or (length is not None and length > self.buffer_bytes):
            receive = _checked_stream(receive, request.body_digest)
        else:
            body, receive = await _buffered(receive)
            if hashlib.sha256(body).digest() != request.body_digest:
                await _refuse(send, scope, 401, "unauthenticated", "The body is not the one the gateway signed.")
                return
        try:
            first = await self.nonces.first_use(request.nonce, request.fresh_until)
        except NonceStoreUnavailable as exc:
            log.error("nonce store unavailable: %s", exc)
            await _refuse(send, scope, 503, "service-unavailable", "The service cannot check request signatures now.")
            return
        if not first:
            await _refuse(send, scope, 401, "unauthenticated", "This signed request has already been used.")
            return
        state["principal"] = request.principal
        state["principal_id"] = request.principal.client_id
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect as the server would

    return body, replay


def _checked_stream(receive: Receive, expected: bytes) -> Receive:
    digest = hashlib.sha256()

    async def checked() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            digest.update(message.get("body", b""))
            if not message.get("more_body", False) and digest.digest() != expected:
                raise BodyDigestMismatch
        return message

    return checked
