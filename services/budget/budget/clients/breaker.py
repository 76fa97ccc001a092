"""A circuit breaker for calls to another service: the pure state machine, no I/O, its clock injected.

``closed``: calls go through; ``failure_threshold`` consecutive failures open it. ``open``: calls
are refused at once (the caller answers 503 with ``Retry-After``) until ``cool_down_s`` has passed
since it opened. Then ``half_open``: one trial call goes through while the others are still
refused; its success closes the breaker, its failure opens it again for another cool-down.

Thread-safe: the budget service calls the roles service from worker threads. A caller that was
admitted must report the outcome (:meth:`succeeded` or :meth:`failed`) exactly once, whatever
happens, or a half-open breaker would wait for its trial forever.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self, *, failure_threshold: int, cool_down_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1 or cool_down_s <= 0:
            raise ValueError("a breaker needs failure_threshold >= 1 and cool_down_s > 0")
        self.failure_threshold = failure_threshold
        self.cool_down_s = cool_down_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0  # consecutive, while closed
        self._opened_at = 0.0
        self._trial_out = False  # half-open: the one trial call is under way

    @property
    def state(self) -> State:
        """The state as a call made now would find it (an open breaker past its cool-down is half-open)."""
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self.cool_down_s:
                return "half_open"
            return self._state

    def admit(self) -> int | None:
        """None when a call may go through now (the caller then reports how it went); otherwise the
        seconds until one may (at least 1, whole seconds, for ``Retry-After``)."""
        with self._lock:
            now = self._clock()
            if self._state == "open":
                waited = now - self._opened_at
                if waited < self.cool_down_s:
                    return _whole_seconds(self.cool_down_s - waited)
                self._state, self._trial_out = "half_open", False
            if self._state == "half_open":
                if self._trial_out:
                    return _whole_seconds(self.cool_down_s)  # the trial's answer decides; ask again later
                self._trial_out = True
            return None

    def succeeded(self) -> None:
        with self._lock:
            self._state, self._failures, self._trial_out = "closed", 0, False

    def failed(self) -> None:
        with self._lock:
            if self._state == "half_open":
                self._open()
                return
            self._failures += 1
            if self._state == "closed" and self._failures >= self.failure_threshold:
                self._open()

    def _open(self) -> None:
        self._state, self._opened_at, self._failures, self._trial_out = "open", self._clock(), 0, False


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))
