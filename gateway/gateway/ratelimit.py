"""Per-client rate limits: a token bucket per client, sized by the client's kind.

In memory the buckets are per replica (N replicas admit up to N times the rate). With
``GATEWAY_RATE_LIMIT_REDIS_URL`` the buckets live in Redis, shared by every replica, updated
atomically by one Lua script; if Redis cannot be reached, requests pass unlimited (logged).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("arrs.gateway")


class Buckets(Protocol):
    async def take(self, key: str, rate: float, burst: int) -> float | None:
        """Take one token: None if allowed, else the seconds until one is available."""
        ...

    async def aclose(self) -> None: ...


class MemoryBuckets:
    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, rate: float, burst: int) -> float | None:
        now = time.monotonic()
        tokens, stamp = self._state.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            return None
        self._state[key] = (tokens, now)
        return (1.0 - tokens) / rate

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
return tostring(wait)
"""


class RedisBuckets:
    def __init__(self, url: str, *, prefix: str = "arrs:ratelimit:") -> None:
        self.client = aioredis.from_url(url)
        self.prefix = prefix
        self.script = self.client.register_script(_LUA)

    async def take(self, key: str, rate: float, burst: int) -> float | None:
        try:
            # Redis's clock, so every replica agrees on "now".
            seconds, micros = await self.client.time()
            wait = float(await self.script(keys=[self.prefix + key], args=[rate, burst, seconds + micros / 1e6]))
        except RedisError as exc:
            # A rate limiter that is down must not take the platform down with it: let the request
            # through, and say so in the log.
            log.warning("rate-limit store unavailable; request not limited", extra={"error": type(exc).__name__})
            return None
        return None if wait <= 0 else wait

    async def aclose(self) -> None:
        await self.client.aclose()


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
