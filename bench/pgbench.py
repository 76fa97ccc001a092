"""The raw database rate of the baseline's transaction: ``pgbench`` with a custom script, no HTTP, no Python.

pgbench is PostgreSQL's own C client, so its figure is the database's rate for the transaction and not
a client's: ``-M prepared`` (psycopg, under SQLAlchemy, prepares a statement it has run a few times on
a connection too), ``-t`` transactions per client so a run is a fixed amount of work like the HTTP runs,
``-l`` for every transaction's latency (read back from its log files), ``-n`` (no vacuum of pgbench's
own tables: there are none).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_S = 10
_PROCESSED = re.compile(r"number of transactions actually processed: ([0-9]+)/([0-9]+)")
_FAILED = re.compile(r"number of failed transactions: ([0-9]+)")
_TPS = re.compile(r"tps = ([0-9]+(?:\.[0-9]+)?) \(without initial connection time\)")


@dataclass(frozen=True)
class PgbenchRun:
    planned: int
    processed: int
    failed: int
    tps: float
    latencies_ms: list[float]
    wall_s: float
    returncode: int
    output: str


def connection_args(url: str) -> list[str]:
    """pgbench's ``-h -p -U`` and the database name of a SQLAlchemy URL (no password: trust or .pgpass)."""
    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    if parsed.username:
        args += ["-U", parsed.username]
    return [*args, parsed.database or "postgres"]


def run(
    pgbench: str,
    url: str,
    *,
    script: str,
    clients: int,
    transactions_per_client: int,
    defines: dict[str, int],
    work_dir: Path,
    timeout_s: float,
) -> PgbenchRun:
    """One bounded pgbench run of ``script`` in a directory of its own (script and logs)."""
    work_dir.mkdir(parents=True, exist_ok=False)
    script_file = work_dir / "hold.sql"
    script_file.write_text(script)
    prefix = work_dir / "log"
    command = [
        pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
        "-t", str(transactions_per_client), "-f", str(script_file), "-l", f"--log-prefix={prefix}",
    ]  # fmt: skip
    for name, value in defines.items():
        command += ["-D", f"{name}={value}"]
    command += connection_args(url)
    started = time.perf_counter()
    env = {**os.environ, "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT_S)}
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout_s, check=False, start_new_session=True, env=env
    )
    wall_s = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    processed, tps = _PROCESSED.search(output), _TPS.search(output)
    if processed is None or tps is None:
        raise RuntimeError(f"pgbench exited with {completed.returncode} without a report:\n{output}")
    failed = _FAILED.search(output)
    latencies: list[float] = []
    for log in sorted(work_dir.glob("log.*")):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
    return PgbenchRun(
        planned=int(processed.group(2)),
        processed=int(processed.group(1)),
        failed=int(failed.group(1)) if failed else 0,
        tps=float(tps.group(1)),
        latencies_ms=latencies,
        wall_s=wall_s,
        returncode=completed.returncode,
        output=output,
    )
