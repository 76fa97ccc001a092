"""The gateway's upstream reads (``--only reads``): the CPU one whole-body GET costs the gateway, through
the httpx client the proxy uses and through the pooled aiohttp session the scorecards use
(:mod:`gateway.reads`), in the same run, against the same upstream.

The upstream is a minimal ASGI app under uvicorn with the services' flags (uvloop, httptools), in its
own process, answering every GET with the same JSON (the size of an ICB's page of 30 PCN budgets).
The client side runs here, on uvloop as the gateway does: each getter sends the same signed headers,
``--reads-count`` sequential reads (c=1) and the same count spread over 8 concurrent loops (c=8),
after a warm-up of a tenth as many. CPU per read is this process's user + system time over the
measured reads (``time.process_time``): the gateway's cost alone, not the upstream's. Three
interleaved rounds; the median round is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import uvloop

from arrs_kit.principal import Principal
from bench.report import machine_info
from bench.results import write_section
from bench.servers import Processes, ensure_tool, free_ports, log
from gateway.identity.signer import Signer
from gateway.reads import Getter, HttpxGetter, PooledGetter
from gateway.relay import make_client

ROUNDS = 3
CONCURRENCY = (1, 8)
CALLER = Principal(kind="icb", client_id="bench", org_codes=("QWE",), name="bench")
PATH = "/v1/budgets"
QUERY = "fy=2024-25&icb_code=QWE&limit=500"

_PCN = {
    "pcn_code": "U00000",
    "fy": "2024-25",
    "pcn_name": "A PCN of about this length",
    "icb_code": "QWE",
    "list_size": 54321,
    "pots": [
        {"pot": pot, "allocated_pence": 123456789, "available_pence": 23456789, "held_pence": 0, "paid_pence": 98765}
        for pot in ("arrs", "arrs_gp")
    ],
}
BODY = orjson.dumps({"data": [_PCN] * 30, "next_cursor": None})


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Every GET answers :data:`BODY`; ``/healthz`` too (the readiness poll)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reads-count", type=int, default=4000, help="reads per getter, concurrency and round (default 4000)"
    )


async def _measure(getter: Getter, count: int, concurrency: int) -> tuple[float, float]:
    """(CPU ms per read, reads per second) of ``count`` reads over ``concurrency`` loops."""
    signer = Signer("bench-secret")

    async def loop(reads: int) -> None:
        for _ in range(reads):
            headers = [("x-request-id", "bench"), *signer.for_request(CALLER, PATH, QUERY, "bench")]
            got = await getter.get(PATH, QUERY, headers)
            if got.status != 200 or len(got.content) != len(BODY):
                raise RuntimeError(f"the upstream answered {got.status} ({len(got.content)} bytes)")

    share = count // concurrency
    await asyncio.gather(*(loop(max(1, share // 10)) for _ in range(concurrency)))  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(loop(share) for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / (share * concurrency) * 1000, share * concurrency / wall


async def _round(url: str, count: int) -> dict[str, dict[int, tuple[float, float]]]:
    client = make_client(url, timeout_s=10, connect_timeout_s=2, max_connections=100)
    pooled = PooledGetter(max_connections_per_service=100, connect_timeout_s=2)
    getters: dict[str, Getter] = {"httpx": HttpxGetter(client), "aiohttp": pooled.for_service(url)}
    try:
        return {name: {c: await _measure(g, count, c) for c in CONCURRENCY} for name, g in getters.items()}
    finally:
        await client.aclose()
        await pooled.aclose()


def run(args: argparse.Namespace, *, command: str) -> None:
    started = datetime.now(UTC)
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="arrs-bench-reads-") as temp:
        servers = Processes(Path(temp))
        try:
            servers.start(
                "upstream",
                [sys.executable, "-m", "uvicorn", "bench.reads:upstream_app", "--port", str(port), "--loop", "uvloop",
                 "--http", "httptools", "--no-access-log", "--log-level", "warning"],
                {**os.environ},
            )  # fmt: skip
            servers.wait_healthy("upstream", f"{url}/healthz")
            rounds = []
            for number in range(ROUNDS):
                rounds.append(uvloop.run(_round(url, args.reads_count)))
                log(f"reads round {number + 1}/{ROUNDS}: " + _line(rounds[-1]))
        finally:
            servers.stop_all()
    finished = datetime.now(UTC)
    median = {name: {c: _median([r[name][c] for r in rounds]) for c in CONCURRENCY} for name in ("httpx", "aiohttp")}
    text = _markdown(median, rounds, command=command, started=started, finished=finished, count=args.reads_count)
    write_section(args.results, "reads", text)
    print(text)


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    ordered = sorted(runs)
    return ordered[len(ordered) // 2]


def _line(result: dict[str, dict[int, tuple[float, float]]]) -> str:
    return "; ".join(f"{n} c={c}: {cpu:.3f} ms CPU/read" for n, by_c in result.items() for c, (cpu, _) in by_c.items())


def _markdown(
    median: dict[str, dict[int, tuple[float, float]]],
    rounds: list[dict[str, dict[int, tuple[float, float]]]],
    *,
    command: str,
    started: datetime,
    finished: datetime,
    count: int,
) -> str:
    machine = machine_info(nginx="true", wrk=ensure_tool("wrk", "wrk"))
    rows = []
    for c in CONCURRENCY:
        base = median["httpx"][c][0]
        for name in ("httpx", "aiohttp"):
            cpu, rps = median[name][c]
            spread = statistics.pstdev(r[name][c][0] for r in rounds)
            rows.append(f"| {name} | {c} | {cpu:.3f} (±{spread:.3f}) | {rps:,.0f} | {cpu / base:.0%} |")
    return "\n".join(
        [
            "# Upstream reads: what one GET costs the gateway",
            "",
            f"Command: {command}. Run {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC.",
            "",
            f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}, uvloop "
            f"{machine['uvloop']}, httpx {machine['httpx']} (httpcore {machine['httpcore']}); load average before "
            f"{machine['load_average_before']}. The upstream (uvicorn, uvloop, httptools) runs in its own process.",
            "",
            f"A signed GET of a {len(BODY):,}-byte JSON answer (an ICB's page of 30 PCN budgets), read whole, "
            f"{count:,} per client and concurrency, the median of {ROUNDS} interleaved rounds (± the rounds' "
            "standard deviation). CPU is the gateway side's alone. 'of httpx' is the CPU per read against the "
            "httpx client's at the same concurrency.",
            "",
            "| client | c | CPU ms/read | reads/s | of httpx |",
            "| --- | --: | --: | --: | --: |",
            *rows,
            "",
            "httpx is the gateway's client for readiness and the OpenAPI documents (`gateway/relay.py`, "
            "`make_client`, through `HttpxGetter`; the proxy forwards over its own pool, `gateway/upstream.py`); "
            "aiohttp is the pooled session the scorecards read with (`gateway/reads.py`, `PooledGetter`). "
            "The difference is mostly HTTP/1.1 parsing (h11, pure Python, against aiohttp's C parser) and "
            "httpcore's pool bookkeeping; see `bench/reads.py`.",
        ]
    )
