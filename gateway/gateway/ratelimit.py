"""Per-client rate limits: a token bucket per client, sized by the client's kind.

In memory the buckets are per replica (N replicas admit up to N times the rate). With
``GATEWAY_RATE_LIMIT_REDIS_URL`` the buckets live in Redis, shared by every replica, updated
atomically by one Lua script; if Redis cannot be reached, requests pass unlimited (logged).

Every answer to a limited client states its limit in the ``RateLimit-Policy`` and ``RateLimit``
header fields of the IETF HTTPAPI draft "RateLimit header fields for HTTP",
draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026; the structured-field form since -07/-08, not
the ``limit=, remaining=, reset=`` of the earlier drafts): see :func:`ratelimit_headers`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import NamedTuple, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import Message, Send

log = logging.getLogger("arrs.gateway")


class Taken(NamedTuple):
    """What taking a token answered: ``wait``, None if allowed, else the seconds until a token is
    available; ``remaining``, the tokens left in the bucket after the take (fractional; below 1 when
    refused), or None when the store could not be asked (the request passes, limits unknown)."""

    wait: float | None
    remaining: float | None


class Buckets(Protocol):
    async def take(self, key: str, rate: float, burst: int) -> Taken:
        """Take one token: whether it was allowed (``wait`` None) or how long until one is, and what is left."""
        ...

    async def aclose(self) -> None: ...


class MemoryBuckets:
    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, rate: float, burst: int) -> Taken:
        now = time.monotonic()
        tokens, stamp = self._state.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            return Taken(None, tokens - 1.0)
        self._state[key] = (tokens, now)
        return Taken((1.0 - tokens) / rate, tokens)

    async def aclose(self) -> None:
        self._state.clear()


_LUA = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 't'))
local stamp = tonumber(redis.call('HGET', KEYS[1], 's'))
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if tokens == nil then tokens = burst; stamp = now end
tokens = math.min(burst, tokens + (now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tokens, 's', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {tostring(wait), tostring(tokens)}
"""


class RedisBuckets:
    def __init__(self, url: str, *, prefix: str = "arrs:ratelimit:") -> None:
        self.client = aioredis.from_url(url)
        self.prefix = prefix
        self.script = self.client.register_script(_LUA)

    async def take(self, key: str, rate: float, burst: int) -> Taken:
        try:
            # Redis's clock, so every replica agrees on "now".
            seconds, micros = await self.client.time()
            wait, tokens = await self.script(keys=[self.prefix + key], args=[rate, burst, seconds + micros / 1e6])
            wait, remaining = float(wait), float(tokens)
        except RedisError as exc:
            # A rate limiter that is down must not take the platform down with it: let the request
            # through, and say so in the log.
            log.warning("rate-limit store unavailable; request not limited", extra={"error": type(exc).__name__})
            return Taken(None, None)
        return Taken(None if wait <= 0 else wait, remaining)

    async def aclose(self) -> None:
        await self.client.aclose()


def retry_after_header(wait_s: float) -> str:
    return str(_whole_seconds(wait_s))


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def ratelimit_headers(policy: str, rate: float, burst: int, taken: Taken) -> list[tuple[bytes, bytes]]:
    """The ``RateLimit-Policy`` and ``RateLimit`` fields for one answer (draft-ietf-httpapi-ratelimit-headers-11,
    §3 and §4: structured-field lists of one item each, named by ``policy``, the client's kind).

    The policy is the bucket: ``q`` its size (``burst`` requests) and ``w`` the seconds it takes to
    fill from empty at ``rate`` (rounded up, the draft's windows being whole seconds), so ``q/w`` is
    at most the sustained rate: ``RateLimit-Policy: "pcn";q=30;w=3``. The service limit is what is
    left: ``r`` the whole tokens left after this request, and ``t`` the seconds until the next token
    accrues, rounded up (until then no more than ``r`` requests can pass): ``RateLimit: "pcn";r=12;t=1``. Refused (429),
    ``r`` is 0 and ``t`` is the ``Retry-After`` exactly (both :func:`_whole_seconds` of the wait), as
    the draft's §6 asks (Retry-After no earlier than the effective window's end).

    Nothing when the store could not be asked (the request passed unlimited, the limits unknown)."""
    if taken.remaining is None:
        return []
    window = _whole_seconds(burst / rate)
    left = max(0.0, taken.remaining)
    whole = math.floor(left)
    next_token_s = taken.wait if taken.wait is not None else (1.0 - (left - whole)) / rate
    name = policy.replace("\\", "").replace('"', "")
    return [
        (b"ratelimit-policy", f'"{name}";q={burst};w={window}'.encode()),
        (b"ratelimit", f'"{name}";r={whole};t={_whole_seconds(next_token_s)}'.encode()),
    ]


def with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    """``send``, adding ``headers`` to the response's start (whatever answers: the proxy or the gateway's own app)."""
    if not headers:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)

    return sending
