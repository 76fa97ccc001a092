"""The edge part of the gateway benchmark: a header flood against the running gateway, and what the
checks every request now goes through cost, in µs per call.

**Floods** (:func:`floods`), against the gateway the benchmark started as ``make run`` starts it
(``tools/run.py``'s uvicorn command: ``--http gateway.server:ProblemHttpToolsProtocol --no-proxy-headers``,
default ``GATEWAY_MAX_HEADER_COUNT`` and ``GATEWAY_MAX_HEADER_BYTES``). One raw connection sends one
request, ``GET /v1/rates`` with the admin key and :data:`FLOOD_FIELDS` small header fields, written in
one go; a second connection meanwhile sends ``GET /healthz`` one after another (keep-alive), from
:data:`QUIET_S` before the flood until the flood's answer arrives. Reported: the time from the flood's
first byte to the whole of its answer, which must be 431 ``request-header-fields-too-large``; the
gateway's CPU over that time; the ``/healthz`` latencies during the flood (count, p50, max) beside those
of the same connection just before it. Then the same with one header field of :data:`BIG_FIELD_BYTES`.

**Microbenchmarks** (:func:`micro`): ``timeit``, best of :data:`REPEAT` repeats, of what the new checks
cost per request: :func:`gateway.edge.header_limits` on a typical 12-field request,
:func:`gateway.edge.has_dot_segment` on a typical path, signing as the gateway does it (the SHA-256 of a
200-byte body, then :func:`arrs_kit.principal.principal_headers`) and verifying as a service does
(:func:`arrs_kit.principal.verify_headers`, the body's SHA-256 compared, then
:meth:`arrs_kit.signed.MemoryNonces.first_use` with a nonce not seen before).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import timeit
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from arrs_kit.principal import Principal, principal_headers, verify_headers
from arrs_kit.signed import MemoryNonces
from bench import load
from gateway.config import GatewaySettings
from gateway.edge import has_dot_segment, header_limits

FLOOD_FIELDS = 100_000
BIG_FIELD_BYTES = 1_048_576
QUIET_S = 1.0
ANSWER_TIMEOUT_S = 60.0
REPEAT = 5
NUMBER = 20_000
SIGNED_NUMBER = 5_000
FLOOD_STATUS = 431
FLOOD_PROBLEM = "/problems/request-header-fields-too-large"

TYPICAL_HEADERS: list[tuple[bytes, bytes]] = [
    (b"host", b"api.arrs.example.nhs.uk"),
    (b"user-agent", b"python-httpx/0.28.1"),
    (b"accept", b"application/json"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"authorization", b"Bearer " + b"e" * 180),
    (b"content-type", b"application/json"),
    (b"content-length", b"200"),
    (b"idempotency-key", b"5f0b8c1e-6a4e-4f7e-9d2b-3c1f0a9e8b7d"),
    (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    (b"x-correlation-id", b"b7ad6b7169203331"),
    (b"if-none-match", b'"33a64df551425fcc55e4d42a148795d9f25f89d4"'),
]
TYPICAL_PATH = "/v1/pcns/U54321/budgets/2024-25/allocations"
SIGNED_PATH = "/v1/claims/123456/submit"
SIGNED_PRINCIPAL = Principal(kind="icb", client_id="cl_4f9a1c2e7b", org_codes=("QYG",), name="Cheshire finance")
BODY_200 = json.dumps({"reason": "x" * 170, "amount_pence": 123456}, separators=(",", ":")).encode()[:200]


@dataclass(frozen=True)
class Latencies:
    count: int
    p50_ms: float
    max_ms: float
    errors: int

    @classmethod
    def of(cls, values: list[float], errors: int) -> Latencies:
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            p50_ms=load.percentile(ordered, 50),
            max_ms=ordered[-1] if ordered else float("nan"),
            errors=errors,
        )


@dataclass(frozen=True)
class Flood:
    """One oversized request and what the gateway did meanwhile."""

    what: str
    fields: int
    request_bytes: int
    status: int
    problem_type: str | None
    answer_ms: float
    written_ms: float
    gateway_cpu_ms: float | None
    healthz_quiet: Latencies
    healthz_during: Latencies

    @property
    def refused(self) -> bool:
        return self.status == FLOOD_STATUS and self.problem_type == FLOOD_PROBLEM

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "refused": self.refused}


@dataclass(frozen=True)
class Micro:
    name: str
    what: str
    best_us: float
    median_us: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def flood_request(host: str, path: str, admin_key: str, *, fields: int = 0, big_bytes: int = 0) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {admin_key}\r\n"
    many = "".join(f"x-f{n}: {n % 10}\r\n" for n in range(fields))
    big = f"x-big: {'a' * big_bytes}\r\n" if big_bytes else ""
    return (head + many + big + "\r\n").encode("latin-1")


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


def cpu_ns(pid: int) -> int | None:
    """CPU time of every thread of ``pid`` in ns (``/proc/<pid>/task/*/schedstat``: finer than the 10 ms
    ticks of ``/proc/<pid>/stat``), or None when it cannot be read."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
    except OSError:
        return None
    return total


async def _flood(host: str, port: int, request: bytes, gateway_pid: int | None, what: str, fields: int) -> Flood:
    healthz = load.Connection(host, port).encode(load.Call("GET", "/healthz", {}))
    poller = load.Connection(host, port)
    samples: list[tuple[float, float, bool]] = []  # (sent, answered, 200) on time.perf_counter()
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                status, _body = await poller.send(healthz)
            except (OSError, asyncio.IncompleteReadError, load.ProtocolError, ValueError):
                status = 0
            samples.append((sent, time.perf_counter(), status == 200))

    polling = asyncio.ensure_future(poll())
    try:
        await asyncio.sleep(QUIET_S)
        reader, writer = await asyncio.open_connection(host, port, limit=64 * 1024)
        try:
            cpu_before = cpu_ns(gateway_pid) if gateway_pid else None
            started = time.perf_counter()
            writer.write(request)

            async def drained() -> float:
                await writer.drain()
                return time.perf_counter()

            written = asyncio.ensure_future(drained())
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                status, body = await _read_answer(reader)
            answered = time.perf_counter()
            stop.set()
            cpu_after = cpu_ns(gateway_pid) if gateway_pid else None
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                written_at = await written
        finally:
            writer.close()
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            await polling
    finally:
        stop.set()
        polling.cancel()
        await poller.close()
    try:
        problem = json.loads(body).get("type")
    except (ValueError, AttributeError):
        problem = None
    # Quiet: answered before the flood's first byte; during: any part of it between that and the answer.
    quiet = [(end - sent) * 1000 for sent, end, _ok in samples if end < started]
    during = [(end - sent) * 1000 for sent, end, _ok in samples if end >= started and sent <= answered]
    return Flood(
        what=what,
        fields=fields,
        request_bytes=len(request),
        status=status,
        problem_type=problem,
        answer_ms=(answered - started) * 1000,
        written_ms=(written_at - started) * 1000,
        gateway_cpu_ms=None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / 1e6,
        healthz_quiet=Latencies.of(quiet, sum(1 for sent, end, ok in samples if end < started and not ok)),
        healthz_during=Latencies.of(
            during, sum(1 for sent, end, ok in samples if end >= started and sent <= answered and not ok)
        ),
    )


def floods(gateway_url: str, admin_key: str, request_path: str, gateway_pid: int | None) -> list[Flood]:
    """The two oversized requests, one after the other, each with ``/healthz`` polled meanwhile."""
    host, _, port_text = gateway_url.removeprefix("http://").partition(":")
    port = int(port_text)
    authority = f"{host}:{port}"
    out = []
    for what, kwargs in (
        (f"{FLOOD_FIELDS:,} header fields", {"fields": FLOOD_FIELDS}),
        (f"one header field of {BIG_FIELD_BYTES // 1024:,} KiB", {"big_bytes": BIG_FIELD_BYTES}),
    ):
        request = flood_request(authority, request_path, admin_key, **kwargs)
        fields = 2 + int(kwargs.get("fields", 0)) + (1 if "big_bytes" in kwargs else 0)
        out.append(load.run(_flood(host, port, request, gateway_pid, what, fields)))
    return out


def _best_and_median(timer: timeit.Timer, number: int) -> tuple[float, float]:
    runs = sorted(t / number * 1e6 for t in timer.repeat(repeat=REPEAT, number=number))
    return runs[0], runs[len(runs) // 2]


def _drive(coroutine: Coroutine[Any, Any, bool]) -> bool:
    """Run a coroutine that never suspends (``MemoryNonces.first_use``) to its end, without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return bool(done.value)
    coroutine.close()
    raise RuntimeError("the coroutine suspended")


def micro(secret: str) -> list[Micro]:
    """µs per call of each check, timed in this process (best and median of :data:`REPEAT` repeats)."""
    out: list[Micro] = []

    def add(name: str, what: str, stmt: Callable[[], object], number: int) -> None:
        best, median = _best_and_median(timeit.Timer(stmt), number)
        out.append(Micro(name, what, best, median))

    fields = GatewaySettings.model_fields
    max_count, max_bytes = int(fields["max_header_count"].default), int(fields["max_header_bytes"].default)
    if header_limits(TYPICAL_HEADERS, max_count, max_bytes) is not None or has_dot_segment(TYPICAL_PATH):
        raise RuntimeError("the typical request of the microbenchmark is itself refused")
    add(
        "header_limits",
        f"`gateway.edge.header_limits` on a typical request of {len(TYPICAL_HEADERS)} header fields",
        lambda: header_limits(TYPICAL_HEADERS, max_count, max_bytes),
        NUMBER,
    )
    add(
        "has_dot_segment",
        f"`gateway.edge.has_dot_segment` on `{TYPICAL_PATH}`",
        lambda: has_dot_segment(TYPICAL_PATH),
        NUMBER,
    )
    request_id = uuid.uuid4().hex

    def sign() -> dict[str, str]:
        return principal_headers(
            SIGNED_PRINCIPAL,
            secret,
            method="POST",
            path=SIGNED_PATH,
            query="",
            body_digest=hashlib.sha256(BODY_200).digest(),
            request_id=request_id,
        )

    add(
        "sign",
        f"gateway: SHA-256 of a {len(BODY_200)}-byte body, then `arrs_kit.principal.principal_headers`",
        sign,
        SIGNED_NUMBER,
    )
    # Every verification gets a set of its own (a nonce is accepted once), signed beforehand.
    signed_sets = [{**sign(), "x-request-id": request_id} for _ in range(REPEAT * SIGNED_NUMBER)]
    sets: Iterator[dict[str, str]] = iter(signed_sets)
    nonces = MemoryNonces()

    def verify() -> None:
        headers = next(sets)
        request = verify_headers(headers, method="POST", path=SIGNED_PATH, query="", secret=secret)
        if request is None or hashlib.sha256(BODY_200).digest() != request.body_digest:
            raise RuntimeError("a set signed for the microbenchmark did not verify")
        if not _drive(nonces.first_use(request.nonce, request.fresh_until)):
            raise RuntimeError("a nonce of the microbenchmark was seen twice")

    add(
        "verify",
        f"service: `arrs_kit.principal.verify_headers`, SHA-256 of the {len(BODY_200)}-byte body compared,"
        " `MemoryNonces.first_use` of a new nonce",
        verify,
        SIGNED_NUMBER,
    )
    return out
