"""HTTP plumbing of the demo's loader: one request at a time per slot, throttling waited out, progress."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

Out = Callable[[str], None]
RETRIES = 8


class LoadError(Exception):
    """The platform refused something the demo cannot carry on without."""


class Uncertain(Exception):
    """A request that is not safe to repeat got no answer: it may or may not have taken effect."""


def problem(response: httpx.Response) -> str:
    """The problem type's code (``budget-exceeded``), or "" for an answer that is not a problem."""
    try:
        body = response.json()
    except ValueError:
        return ""
    kind = body.get("type", "") if isinstance(body, dict) else ""
    return str(kind).removeprefix("/problems/")


def check(response: httpx.Response, *ok: int) -> httpx.Response:
    if response.status_code not in ok:
        request = response.request
        raise LoadError(f"{request.method} {request.url.path} answered {response.status_code}: {response.text[:800]}")
    return response


class Api:
    """Requests through the gateway: at most ``concurrency`` at once, throttling (429) waited out."""

    def __init__(self, client: httpx.AsyncClient, *, admin_key: str, concurrency: int) -> None:
        self.client = client
        self.admin_key = admin_key
        self.gate = asyncio.Semaphore(concurrency)
        self.throttled = 0
        self.retried = 0
        self.requests = 0

    async def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        repeatable: bool = False,
    ) -> httpx.Response:
        """One request as the client whose API key is ``key`` (the admin's when None). Repeated after a
        429 (waiting its Retry-After) and, when repeating is safe (a read, a PUT, or an
        ``Idempotency-Key``, or ``repeatable``: the caller recognises a repeat by its answer), after a
        502/503/504 or a dropped connection; otherwise such a failure raises :class:`Uncertain`."""
        sent = {"X-API-Key": key or self.admin_key, **(headers or {})}
        safe = repeatable or method in ("GET", "PUT", "DELETE") or "Idempotency-Key" in sent
        kwargs: dict[str, Any] = {"headers": sent, "params": params}
        if body is not None:
            kwargs["json"] = body
        if content is not None:
            kwargs["content"] = content
        if timeout_s is not None:
            kwargs["timeout"] = timeout_s
        failures = 0
        while True:
            try:
                async with self.gate:
                    self.requests += 1
                    response = await self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if not safe:
                    raise Uncertain(f"{method} {path}: {type(exc).__name__}") from exc
                failures += 1
                if failures > RETRIES:
                    raise LoadError(f"{method} {path}: no answer after {RETRIES} tries ({exc!r})") from exc
                self.retried += 1
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            if response.status_code == 429:
                self.throttled += 1
                await asyncio.sleep(_retry_after(response))
                continue
            if response.status_code in (502, 503, 504) or (
                response.status_code == 409 and problem(response) in ("idempotency-key-in-progress", "upload-conflict")
            ):
                if not safe and response.status_code != 409:
                    raise Uncertain(f"{method} {path}: {response.status_code} {problem(response)}")
                failures += 1
                if failures > RETRIES:
                    check(response, 200)
                self.retried += 1
                await asyncio.sleep(max(_retry_after(response), min(30.0, 0.5 * 2**failures)))
                continue
            return response


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.05, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


class Progress:
    """A phase's progress, printed every ``every_s`` seconds and at the end."""

    def __init__(self, out: Out, phase: str, total: int, unit: str) -> None:
        self.out, self.phase, self.total, self.unit = out, phase, total, unit
        self.done = 0
        self.skipped = 0  # done by an earlier run
        self.started = time.monotonic()

    def add(self, n: int = 1) -> None:
        self.done += n

    def skip(self, n: int = 1) -> None:
        self.done += n
        self.skipped += n

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        fresh = self.done - self.skipped
        rate = fresh / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        left = self.total - self.done
        eta = f", about {duration(left / rate)} left" if rate > 0 and left > 0 else ""
        earlier = f", {self.skipped:,} done before" if self.skipped else ""
        return (
            f"[demo] {self.phase}: {self.done:,}/{self.total:,} {self.unit}{share}{earlier}, "
            f"{rate:,.1f} {self.unit}/s{eta}"
        )

    async def tick(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.out(self.line())


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
