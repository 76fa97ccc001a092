"""A closed-loop load driver for work that can be done only once: N workers pull items from one queue.

Why not wrk, as the gateway benchmark uses: a claim can be submitted once, so a run is a fixed amount of
work (so many distinct claims), not a fixed duration; every request has its own path
(``/v1/claims/{id}/submit``), and every answer must be checked, not only counted as 2xx. wrk could walk
ids from a Lua script, but it stops on a clock rather than when the ids run out, and reads no bodies.
(Set-up requests straight to a service are signed as they are sent, each once: :func:`bench.claims.signed`.)

So this driver: ``concurrency`` workers on one event loop (uvloop), each with one keep-alive HTTP/1.1
connection of its own; a worker takes the next item from the shared queue, signs and sends its request,
reads the whole answer, and only then takes another, so exactly N requests are in flight, as N clients
would keep them. Latency is per request, from just before the request is written to its last body byte
(``time.perf_counter``); throughput is the requests answered over the wall time from the first send to
the last answer. Answers are kept and checked after the run, off the timed path.

Why not ``httpx.AsyncClient``: it was tried first and cost about 3 ms of CPU per request in smoke runs on
the 2-core machine this was written on (busy at the time), nearly as much as the floor endpoint itself,
against about 0.35 ms for this client; the driver shares the cores with the servers and PostgreSQL.
:class:`Connection` is the least HTTP/1.1 a client needs to talk to uvicorn
(a request with ``Content-Length``; an answer with ``Content-Length``, as Starlette's JSON responses
have; anything else is an error, never a guess). The benchmark reports the driver's own CPU per request,
so what it takes from the servers stays visible.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

REQUEST_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 10.0
ERROR_SAMPLES = 5
MAX_HEAD_BYTES = 64 * 1024


class ProtocolError(Exception):
    """An answer this client does not read (no ``Content-Length``, a malformed head…)."""


@dataclass(frozen=True)
class Call:
    """One request: method, path (as the server sees it) and headers; ``json`` the body, if any."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None

    def body(self) -> bytes:
        """The exact body bytes :meth:`Connection.encode` sends (what a signature's digest must cover)."""
        return b"" if self.json is None else json.dumps(self.json, separators=(",", ":")).encode()


@dataclass
class Answer(Generic[T]):
    item: T
    status: int
    body: bytes


@dataclass
class Outcome(Generic[T]):
    """What a run did: every answer (for the checks), transport failures, latencies, wall time."""

    planned: int
    answers: list[Answer[T]] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass(frozen=True)
class Stats:
    """Throughput and latency of one measured run (latencies of every answered request)."""

    requests: int
    errors: int
    wall_s: float
    rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "wall_s": self.wall_s,
            "rps": self.rps,
            "mean_ms": self.mean_ms,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
        }


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q ≤ 100) of already sorted values."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def stats(
    *, latencies_ms: Sequence[float], requests: int, errors: int, wall_s: float, rps: float | None = None
) -> Stats:
    """``rps`` defaults to the requests answered without error over ``wall_s``."""
    ordered = sorted(latencies_ms)
    if rps is None:
        rps = (requests - errors) / wall_s if wall_s > 0 else 0.0
    return Stats(
        requests=requests,
        errors=errors,
        wall_s=wall_s,
        rps=rps,
        mean_ms=sum(ordered) / len(ordered) if ordered else math.nan,
        p50_ms=percentile(ordered, 50),
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else math.nan,
    )


class Connection:
    """One keep-alive HTTP/1.1 connection, opened on first use and again after any failure."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._host_header = f"Host: {host}:{port}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD_BYTES)
        return self._reader, self._writer

    def encode(self, call: Call) -> bytes:
        body = call.body()
        head = [f"{call.method} {call.path} HTTP/1.1\r\n", self._host_header]
        head += [f"{name}: {value}\r\n" for name, value in call.headers.items()]
        if call.json is not None:
            head.append("Content-Type: application/json\r\n")
        head.append(f"Content-Length: {len(body)}\r\n\r\n")
        return "".join(head).encode("latin-1") + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write an encoded request and read its answer: (status, body)."""
        try:
            if self._writer is None or self._reader is None:
                reader, writer = await self._open()
            else:
                reader, writer = self._reader, self._writer
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
            length: int | None = None
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "transfer-encoding":
                    raise ProtocolError("a chunked answer: this client reads Content-Length only")
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            if length is None:
                raise ProtocolError("an answer without Content-Length")
            body = await reader.readexactly(length)
            if close:
                await self.close()
            return int(parts[1]), body
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(2):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass


class Connections:
    """``count`` connections to one server, closed on exit (``async with``)."""

    def __init__(self, base_url: str, count: int) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.items = [Connection(host, int(port or 80)) for _ in range(count)]

    async def __aenter__(self) -> list[Connection]:
        return self.items

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        for connection in self.items:
            await connection.close()


async def drive(
    connections: Sequence[Connection],
    items: Sequence[T],
    make: Callable[[T], Call],
    *,
    deadline_s: float,
) -> Outcome[T]:
    """Send one request per item, one worker per connection; bounded by ``deadline_s`` in all."""
    outcome: Outcome[T] = Outcome(planned=len(items))
    queue: Iterator[T] = iter(items)

    async def worker(connection: Connection) -> None:
        for item in queue:  # one iterator shared by every worker: each item is taken once
            call = make(item)
            request = connection.encode(call)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status, body = await connection.send(request)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError,
                    ValueError) as exc:  # fmt: skip
                _failed(outcome, call, exc)
                continue
            outcome.latencies_ms.append((time.perf_counter() - started) * 1000)
            outcome.answers.append(Answer(item, status, body))

    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline_s):
            await asyncio.gather(*(worker(c) for c in connections[: max(1, len(items))]))
    except TimeoutError:
        raise RuntimeError(
            f"the run did not finish within {deadline_s:.0f} s ({len(outcome.answers)} of {len(items)} answered)"
        ) from None
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _failed(outcome: Outcome[Any], call: Call, exc: BaseException) -> None:
    outcome.failures[type(exc).__name__] += 1
    if len(outcome.failure_samples) < ERROR_SAMPLES:
        outcome.failure_samples.append(f"{call.method} {call.path}: {type(exc).__name__}: {exc}")


def run(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine to completion on uvloop (asyncio's loop when uvloop is missing)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the services
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
