"""Analyses computed once per state of what they are computed from, and answered again while that
state holds.

A dashboard polls an ICB's list or a PCN's scorecard; between two polls usually nothing it is computed
from has changed. An entry is kept with the state it was computed from: the change counters of the
data concerned (:mod:`evaluation.changes`: per PCN, and ``workload`` for uploads), read **before** the
computation so that an entry never claims a state newer than its rows, and what the budget service
answered, as the evaluation service's budget client has it (cached for
``EVALUATION_UPSTREAM_CACHE_TTL_S``, then read afresh). An ICB's list keeps the digests of the budget
answers its PCNs and posts were read from as part of its state (``BudgetClient.recording``: equal
digests, equal answers, compared in microseconds where a few hundred posts compared object by object
cost a millisecond); a PCN's summary keeps the digests of every budget answer it read and is answered
only while ``BudgetClient.unchanged`` holds. A read answers the entry only when all of it holds now;
otherwise it computes afresh and replaces it. Every write counts its change in its own transaction, so
a change made through any replica is seen by the next read on every replica; what comes from the
budget service is as fresh as the budget client makes it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    state: object
    value: T


class StateCache(Generic[T]):
    """Values by key, each kept with the state it was computed from; the least recently used go first
    beyond ``max_entries``. Safe to share between the worker threads of one process."""

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, state: object) -> T | None:
        """The value kept under ``key`` if it was computed from ``state`` (compared with ``==``)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry.state is state or entry.state == state):
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.value
            self.misses += 1
            return None

    def put(self, key: Hashable, state: object, value: T) -> None:
        with self._lock:
            self._entries[key] = _Entry(state, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
