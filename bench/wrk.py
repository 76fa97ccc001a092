"""Running ``wrk`` and reading its report: throughput, latency percentiles and every kind of error."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# wrk prints durations with the unit that suits them (src/units.c): us, ms, s, m, h.
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)"
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+" + _TIME + r"\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*([0-9]+) requests in " + _TIME, re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([0-9]+(?:\.[0-9]+)?)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)\s*$", re.MULTILINE
)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: ([0-9]+)\s*$", re.MULTILINE)


class WrkOutputError(ValueError):
    """wrk's output lacks a figure the benchmark needs."""


def to_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_connect: int
    socket_read: int
    socket_write: int
    socket_timeout: int

    @property
    def socket_errors(self) -> int:
        return self.socket_connect + self.socket_read + self.socket_write + self.socket_timeout

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def error_text(self) -> str:
        if not self.errors:
            return "0"
        parts = []
        if self.non_2xx:
            parts.append(f"{self.non_2xx} non-2xx")
        for kind in ("connect", "read", "write", "timeout"):
            count = getattr(self, f"socket_{kind}")
            if count:
                parts.append(f"{count} socket {kind}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "socket_errors": self.socket_errors, "errors": self.errors}


def parse(output: str) -> WrkResult:
    """Read a ``wrk --latency`` report. Raises :class:`WrkOutputError` when a figure is missing."""
    percentiles = {int(m.group(1)): to_ms(m.group(2), m.group(3)) for m in _PERCENTILE.finditer(output)}
    requests = _REQUESTS.search(output)
    rps = _RPS.search(output)
    missing = [str(p) + "%" for p in (50, 75, 90, 99) if p not in percentiles]
    if requests is None:
        missing.append("requests")
    if rps is None:
        missing.append("Requests/sec")
    if missing or requests is None or rps is None:
        raise WrkOutputError(f"wrk output lacks {', '.join(missing)} (was --latency given?):\n{output}")
    sockets = _SOCKET_ERRORS.search(output)
    connect, read, write, timeout = (int(g) for g in sockets.groups()) if sockets else (0, 0, 0, 0)
    non_2xx = _NON_2XX.search(output)
    return WrkResult(
        requests=int(requests.group(1)),
        duration_s=to_ms(requests.group(2), requests.group(3)) / 1000.0,
        rps=float(rps.group(1)),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_connect=connect,
        socket_read=read,
        socket_write=write,
        socket_timeout=timeout,
    )


def run(
    wrk: str,
    url: str,
    *,
    threads: int,
    connections: int,
    duration_s: float,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> tuple[WrkResult, str]:
    """One bounded wrk run; returns the parsed result and wrk's own output (the script's report included).

    ``headers`` go with every request (``-H``); ``script`` is a Lua script (``-s``) given ``script_args``.
    A non-zero exit (a script's verdict too) raises :class:`WrkOutputError` with wrk's output."""
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False, start_new_session=True
    )
    if completed.returncode != 0:
        raise WrkOutputError(f"wrk exited with {completed.returncode}: {completed.stderr}{completed.stdout}")
    return parse(completed.stdout), completed.stdout
