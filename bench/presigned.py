"""Signed principal headers for wrk runs straight to a service: a set of its own for every request.

A service accepts a signed principal once: the signature covers the method, path, query, body digest, a
128-bit nonce, the time of issue and the request id, and the nonce may not be used again (401). So a wrk
run to the roles service direct (or through nginx, which forwards the headers as they are) cannot repeat
one set of headers, as it could before nonces were checked. Instead, just before each run,
:func:`write_pool` signs more sets than the run can use and writes each wrk thread's disjoint slice to a
file of its own; ``presigned.lua`` (``wrk -s``) sends each set once and makes wrk exit with status 3 if a
thread runs out (:func:`check_usage` fails the run then too): a run is never shortened and no set is
ever reused.

How many: a run cannot send more requests than its duration (plus a start-up slack) times an upper bound
on the rate (:func:`sets_per_thread`). Before anything was measured that bound is
:data:`CEILING_RPS`, far above what one uvicorn worker serving this endpoint does on any machine; for the
measured run after a warm-up it is :data:`WARMUP_FACTOR` times the rate the warm-up (same path, same
concurrency, seconds before) achieved, and never below :data:`FLOOR_RPS`.

Freshness: every set is issued at one time, put so that the whole run falls within ``MAX_SKEW_S`` of it;
:func:`write_pool` checks that it still does once the sets are written (signing takes a moment).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arrs_kit.principal import MAX_SKEW_S, Principal, principal_headers

LUA_SCRIPT = Path(__file__).resolve().with_name("presigned.lua")
CEILING_RPS = 20_000.0
"""Requests/s no run of the benchmark reaches (one uvicorn worker reading a catalogue from SQLite)."""
WARMUP_FACTOR = 4.0
FLOOR_RPS = 1_000.0
START_SLACK_S = 2.0
"""wrk's threads start while the others are still being set up; its clock starts after."""
FRESH_MARGIN_S = 2.0
SIGNING_ESTIMATE_S = 10e-6
"""A generous estimate of the time to sign and write one set (about 4 µs on a 2-core Xeon)."""

_USAGE = re.compile(
    r"^arrs-presigned: thread ([0-9]+) used ([0-9]+) of ([0-9]+) sets, ([0-9]+) request\(s\) found none left$",
    re.MULTILINE,
)


class PoolExhausted(RuntimeError):
    """A wrk thread ran out of signed header sets: the run is not reported."""


@dataclass(frozen=True)
class Pool:
    """The signed header sets of one wrk run, thread ``n``'s in ``<prefix><n>.txt``."""

    prefix: str
    threads: int
    per_thread: int
    bound_rps: float
    issued: int
    signing_s: float

    @property
    def sets(self) -> int:
        return self.threads * self.per_thread

    def script_args(self) -> list[str]:
        return [self.prefix, str(self.per_thread)]

    def files(self) -> list[Path]:
        return [Path(f"{self.prefix}{n}.txt") for n in range(self.threads)]

    def remove(self) -> None:
        for path in self.files():
            path.unlink(missing_ok=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sets": self.sets,
            "threads": self.threads,
            "per_thread": self.per_thread,
            "bound_rps": self.bound_rps,
            "issued": self.issued,
            "signing_s": self.signing_s,
        }


def bound_rps(warmup_rps: float | None) -> float:
    """The upper bound on a run's requests/s that sizes its pool (see the module's docstring)."""
    if warmup_rps is None:
        return CEILING_RPS
    return max(FLOOR_RPS, WARMUP_FACTOR * warmup_rps)


def sets_per_thread(*, run_s: float, threads: int, connections: int, rps: float) -> int:
    """Sets for each wrk thread: the whole run's bound shared as wrk shares the connections, doubled (a
    thread may get ahead of the others), plus one per connection (the requests still in flight at the end)."""
    per_thread_connections = max(1, connections // threads)
    share = min(1.0, 2 * per_thread_connections / connections)
    return math.ceil(rps * (run_s + START_SLACK_S) * share) + per_thread_connections


def write_pool(
    directory: Path,
    *,
    principal: Principal,
    secret: str,
    path: str,
    query: str,
    run_s: float,
    threads: int,
    connections: int,
    rps: float,
) -> Pool:
    """Sign the sets of one ``GET`` wrk run and write each thread's slice; the run must start right after."""
    per_thread = sets_per_thread(run_s=run_s, threads=threads, connections=connections, rps=rps)
    started = time.time()
    # Issued so that the run (which starts once the sets are written) sits in the middle of the window.
    issued = started + threads * per_thread * SIGNING_ESTIMATE_S + (run_s + START_SLACK_S) / 2
    prefix = str(directory / f"presigned-{time.monotonic_ns()}-")
    pool = Pool(prefix, threads, per_thread, rps, int(issued), 0.0)
    try:
        for file in pool.files():
            with file.open("w", encoding="latin-1", newline="") as out:
                lines = []
                for _ in range(per_thread):
                    headers = principal_headers(principal, secret, method="GET", path=path, query=query, now=issued)
                    lines.append("\t".join(f"{name}: {value}" for name, value in headers.items()) + "\n")
                out.write("".join(lines))
        ready = time.time()
        earliest, latest = pool.issued - MAX_SKEW_S + FRESH_MARGIN_S, pool.issued + MAX_SKEW_S - FRESH_MARGIN_S
        if ready < earliest or ready + run_s + START_SLACK_S > latest:
            raise RuntimeError(
                f"signing {pool.sets:,} header sets took {ready - started:.1f} s: they would not stay fresh for a "
                f"{run_s:g} s run (lower --duration)"
            )
    except BaseException:
        pool.remove()
        raise
    return Pool(prefix, threads, per_thread, rps, pool.issued, ready - started)


def usage(output: str) -> dict[int, tuple[int, int, int]]:
    """Per wrk thread, from the script's report: (sets used, sets it had, requests that found none left)."""
    return {int(m.group(1)): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in _USAGE.finditer(output)}


def check_usage(output: str, pool: Pool, requests: int) -> int:
    """The sets a run used; raises :class:`PoolExhausted` when a thread ran out (or did not report)."""
    used = usage(output)
    if sorted(used) != list(range(pool.threads)):
        raise PoolExhausted(f"wrk's script reported on threads {sorted(used)}, not {pool.threads}:\n{output}")
    short = [n for n, (_used, _had, none_left) in used.items() if none_left]
    if short:
        raise PoolExhausted(
            f"wrk thread(s) {short} ran out of their {pool.per_thread:,} signed header sets (sized for "
            f"{pool.bound_rps:,.0f} requests/s): the run is not reported"
        )
    total = sum(u for u, _had, _none in used.values())
    if total < requests:
        raise PoolExhausted(f"wrk counted {requests} requests but its script handed out only {total} header sets")
    return total
