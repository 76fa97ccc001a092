"""Where a process's CPU goes, by layer, from a py-spy profile: ``python -m bench.where PROFILE [...]``.

Record a profile of a server while a benchmark loads it (py-spy samples only while the process runs
on the CPU, so idle waits count for nothing):

    py-spy record --pid PID --duration 10 --rate 1000 --nonblocking --format raw --output PROFILE

Each sample is charged to one layer: the first frame, from the innermost outwards, that belongs to a
layer below. Time in C (a socket write, a parser, HMAC) is charged to the Python frame that called
it. Samples with no Python frame of their own (the event loop waiting in epoll, uvloop reading a
socket and calling back) are "event loop".
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("access log (logging, JSON)", ("logging/__init__.py", "arrs_kit/logs.py", "orjson")),
    ("metrics (prometheus-client)", ("prometheus_client/", "arrs_kit/metrics.py")),
    ("signatures (HMAC, nonces, principal)", ("arrs_kit/signed.py", "arrs_kit/principal.py", "hmac.py", "signer.py")),
    ("gateway: credentials, rate limits, audit", ("gateway/identity/", "gateway/ratelimit.py", "gateway/audit.py")),
    ("gateway: forwarding (pool, request, relay)", ("gateway/upstream.py", "gateway/relay.py", "gateway/proxy.py")),
    ("gateway: edge checks and dispatch", ("gateway/main.py", "gateway/edge.py", "gateway/telemetry.py")),
    ("database (SQLAlchemy, psycopg)", ("sqlalchemy/", "psycopg/", "psycopg_pool/", "sqlmodel/")),
    ("pydantic (validation, serialisation)", ("pydantic/", "pydantic_core/")),
    ("the service's own code", ("/roles/", "/budget/", "/evaluation/", "bench/floor_app.py", "bench/baseline_app.py")),
    ("kit middleware (request id, sessions)", ("arrs_kit/",)),
    ("FastAPI and Starlette (routing, dependencies, responses)", ("fastapi/", "starlette/", "anyio/")),
    ("uvicorn HTTP/1.1 (parse, socket writes)", ("uvicorn/",)),
    ("event loop", ("asyncio/", "uvloop/", "threading.py", "concurrent/futures/")),
)


STARTUP = "start-up"


def layer_of(frames: list[str]) -> str:
    if any("<frozen importlib._bootstrap>" in frame for frame in frames):
        return STARTUP
    for frame in reversed(frames):
        for name, markers in LAYERS:
            if any(marker in frame for marker in markers):
                return name
    return "event loop"


def read_profile(path: Path) -> Counter[str]:
    """Samples per layer from a ``--format raw`` (collapsed stacks) profile."""
    samples: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        # The root frames (the interpreter, uvicorn's start-up) are shared by every sample; a sample
        # that never left them is the event loop itself.
        layer = layer_of(frames[1:])
        if layer != STARTUP:  # the imports of a process started during the recording: not a request's
            samples[layer] += int(count)
    return samples


def table(profiles: dict[str, Counter[str]], cpu_ms: dict[str, float] | None = None) -> str:
    """A Markdown table: each layer's share of each profile (and its milliseconds per request when the
    profile's CPU per request is given)."""
    names = list(profiles)
    header = "| layer | " + " | ".join(names) + " |"
    lines = [header, "| --- |" + " --: |" * len(names)]
    order = [name for name, _ in LAYERS]
    for layer in order:
        cells = []
        for profile in names:
            total = sum(profiles[profile].values()) or 1
            share = profiles[profile][layer] / total
            cell = f"{share:.0%}"
            if cpu_ms and profile in cpu_ms:
                cell += f" ({share * cpu_ms[profile]:.3f} ms)"
            cells.append(cell)
        if any(profiles[p][layer] for p in names):
            lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    lines.append("| samples | " + " | ".join(f"{sum(profiles[p].values()):,}" for p in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.where", description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", help="NAME=PATH[:CPU_MS_PER_REQUEST] of py-spy raw profiles")
    args = parser.parse_args(argv)
    profiles: dict[str, Counter[str]] = {}
    cpu_ms: dict[str, float] = {}
    for spec in args.profiles:
        name, _, rest = spec.partition("=")
        path, _, ms = rest.partition(":")
        profiles[name] = read_profile(Path(path))
        if ms:
            cpu_ms[name] = float(ms)
    print(table(profiles, cpu_ms or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
