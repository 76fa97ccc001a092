"""Failed authentications, counted per source address and per identity presented from that address."""

from __future__ import annotations

import time
from collections import deque


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
