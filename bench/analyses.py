"""``make bench BENCH_ARGS='--only analyses'`` (issue 11): the analyses on the national data set, through a real
gateway, against the one SQL query that reads the same rows.

The data set is the one ``make demo`` loads (``tools/demo``: 42 ICBs, ~1,250 PCNs, ~6,300 practices, posts of
every role, 130 weeks of workload); its four databases (``--analyses-databases demo``: ``demo_roles``,
``demo_budget``, ``demo_evaluation``, ``demo_gateway``) are only read: the benchmark starts its own roles,
budget and evaluation services and gateway on them (uvicorn, as ``make run`` serves them;
``GATEWAY_RATE_LIMITS={}``), creates one national dashboard client through the gateway with the admin key
(revoked at the end: the gateway database gains that client row and its audit entries, nothing else is
written) and sends only GETs. Four analyses, each rotating over many subjects so no single answer is asked
for again and again (wrk with ``bench/rotate.lua``; every answer checked: 200, and for a scorecard no part
missing):

1. ``shift``: ``GET /v1/evaluations/posts/{id}/workload-shift``, posts of several ICBs whose windows have
   ended by the day of the demo (``as_of``);
2. ``scorecard``: ``GET /v1/scorecards/{pcn}?fy=``, PCNs of every ICB;
3. ``retention``: ``GET /v1/evaluations/retention?icb_code=``, every ICB;
4. ``scorecards``: ``GET /v1/scorecards?icb_code=&fy=&limit=500``, every ICB (all its PCNs in one page).

Beside each, in the same run and at the same concurrency, its **bare query**: one SQL statement (two for the
list, below) run straight
against the database with the driver the services use (psycopg 3), one connection per concurrent client,
rotating over the same subjects (:data:`BARE`):

1. the per-practice weekly GP-attended aggregation the service runs (``evaluation.analyses.repository
   .practice_rates``), over every current practice of the post's ICB and both windows, joined with list sizes;
2. the same aggregation for every role of the PCN whose windows have ended (the workload shift of each role,
   the bulk of the rows a scorecard reads), in one statement over the ICB's practices;
3. the posts of the ICB's PCNs (budget database), every column, as the budget service reads them;
4. the list's rows live in two databases, so its bare query is two statements, one after the other on a
   connection to each: the ICB's PCNs with their budget balances for the year (budget database: the money
   columns, names and list sizes), then one row per PCN with its posts that have a job plan, its active KPIs
   with their targets and measurements, and its current readiness (evaluation database: the rows the list's
   evaluation columns are computed from). Until December 2026 it was the second statement alone.

The evaluation service caches what it reads from the budget service for ``EVALUATION_UPSTREAM_CACHE_TTL_S``
(30 s, per caller): every analysis is measured with that cache **off** (TTL 0: every read made) and **on**
(the default, after a warm-up run over the same subjects: what a steady stream of such requests sees); the
budget service's own log counts the reads each request still caused. PostgreSQL's buffers are warm in both
(every statement ran in the warm-up). Reported per analysis and concurrency: requests/s, p50/p95/p99, the bare
query's, the ratio, the services' time from their own logs, CPU per request of every process and of
PostgreSQL's backends, and the share of the machine others used. Targets (issue 11): p95 under 300 ms, and
each analysis at least 30% of its bare query's throughput.

Writes the ``analyses`` section of ``bench/RESULTS.md`` and ``bench/out/analyses-latest.json``. The subjects,
targets and bare queries are in :mod:`bench.analyses_sql`, the report in :mod:`bench.analyses_report`; this module
keeps one run's orchestration with the measurements it takes (wrk, the bare queries' threads, CPU meters, the
services' logs), which read as one procedure, hence its length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from arrs_kit.settings import DEV_ADMIN_API_KEY, DEV_GATEWAY_SECRET
from bench import wrk
from bench.analyses_report import report
from bench.analyses_sql import BARE, ITEMS, Bare
from bench.results import write_section
from bench.servers import (
    HOST,
    Processes,
    cpu_seconds,
    ensure_tool,
    free_ports,
    http_options,
    log,
    machine_busy_seconds,
    uvicorn_command,
)
from evaluation.analyses.shift import windows_for

REPO = Path(__file__).resolve().parent.parent
ROTATE_LUA = REPO / "bench" / "rotate.lua"
CACHES = ("off", "on")
WEEKS = 12  # the analyses' default windows
HEALTH_TIMEOUT_S = 60.0
WRK_TIMEOUT_S = 30
COMPLETE = '"parts_missing":[]'  # a scorecard (or list) with every part
DEFAULT_CACHE_TTL_S = 30.0
CLIENT_NAME = "bench analyses national dashboard"


@dataclass
class Subjects:
    """What one analysis rotates over: the gateway paths and, in the same order, its bare query's parameters."""

    paths: list[str]
    params: list[dict[str, Any]]
    described: str
    needle: str | None = None


@dataclass
class DataSet:
    sizes: dict[str, int]
    subjects: dict[str, Subjects]
    icb_practices: dict[str, int] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``bench.run``'s options for this part."""
    group = parser.add_argument_group("analyses benchmark (PostgreSQL, the national data set of make demo)")
    group.add_argument(
        "--analyses-databases",
        default="demo",
        help="prefix of the four loaded databases: <prefix>_roles, _budget, _evaluation, _gateway (default demo)",
    )
    group.add_argument(
        "--analyses-server",
        default="postgresql://postgres@127.0.0.1:5432",
        help="the PostgreSQL server that holds them (no database name)",
    )
    group.add_argument(
        "--analyses-items", nargs="+", choices=ITEMS, default=list(ITEMS), help="which analyses (default all four)"
    )
    group.add_argument(
        "--analyses-concurrency", type=int, nargs="+", default=[1, 8], help="concurrent clients (default 1 8)"
    )
    group.add_argument(
        "--analyses-cache",
        nargs="+",
        choices=CACHES,
        default=list(CACHES),
        help="the evaluation service's cache of budget reads: off (TTL 0), on (the default 30 s); default both",
    )
    group.add_argument("--analyses-duration", type=float, default=15.0, help="seconds per measured run (default 15)")
    group.add_argument("--analyses-warmup", type=float, default=4.0, help="seconds of each warm-up run (default 4)")
    group.add_argument(
        "--analyses-as-of", type=date.fromisoformat, default=date(2025, 3, 31), help="as_of (default the demo's day)"
    )
    group.add_argument("--analyses-fy", default="2024-25", help="the scorecards' financial year (default 2024-25)")
    group.add_argument("--analyses-shift-icbs", type=int, default=8, help="ICBs whose posts the shift rotates over")
    group.add_argument("--analyses-shift-posts", type=int, default=60, help="posts of each of those ICBs at most")
    group.add_argument("--analyses-pcns", type=int, default=240, help="PCNs the scorecard rotates over at most")
    group.add_argument(
        "--analyses-vacuum",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="VACUUM (ANALYZE) a database first when one of its tables was never analysed (a fresh load on a server"
        " with autovacuum off has no planner statistics): what autovacuum would have done; no row changes (default on)",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if any(c < 1 or c > 64 for c in args.analyses_concurrency):
        parser.error("--analyses-concurrency values must be between 1 and 64")
    if not 2 <= args.analyses_duration <= 600:
        parser.error("--analyses-duration must be between 2 and 600 seconds")
    if not 0 <= args.analyses_warmup <= 120:
        parser.error("--analyses-warmup must be between 0 and 120 seconds")
    args.analyses_concurrency = sorted(set(args.analyses_concurrency))
    args.analyses_items = [i for i in ITEMS if i in args.analyses_items]
    args.analyses_cache = [c for c in CACHES if c in args.analyses_cache]


def loaded(args: argparse.Namespace) -> bool:
    """Whether the data set is there (``make bench`` without ``--only`` skips this part when it is not)."""
    url = _url(args.analyses_server, f"{args.analyses_databases}_budget")
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            found = conn.execute("SELECT EXISTS (SELECT 1 FROM post)").fetchone()
    except psycopg.Error:
        found = None
    if not (found and found[0]):
        log(f"analyses: skipped, no data set in {url} (load one with make demo, or --analyses-databases)")
        return False
    return True


# The data set: read straight from the databases, before any server starts.


def _url(server: str, database: str) -> str:
    return server.rstrip("/") + "/" + database


def _interleave(groups: Sequence[Sequence[Any]]) -> list[Any]:
    """Round-robin over the groups, so consecutive items come from different ones."""
    out: list[Any] = []
    longest = max((len(g) for g in groups), default=0)
    for i in range(longest):
        out.extend(g[i] for g in groups if i < len(g))
    return out


def _spread(items: Sequence[Any], count: int) -> list[Any]:
    """At most ``count`` items, evenly spaced over ``items``."""
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def _ended(start: date, as_of: date) -> bool:
    """The service's test: both windows of a post started on ``start`` have ended by ``as_of``."""
    return windows_for(start, WEEKS).after_last + timedelta(days=7) <= as_of


def _windows(start: date) -> dict[str, date]:
    w = windows_for(start, WEEKS)
    return {"before_first": w.before_first, "start_week": w.start_week, "after_last": w.after_last}


def read_data_set(args: argparse.Namespace, names: dict[str, str]) -> DataSet:
    server, as_of, fy = args.analyses_server, args.analyses_as_of, args.analyses_fy
    query = f"as_of={as_of.isoformat()}"
    with psycopg.connect(_url(server, names["budget"])) as budget:
        pcns = budget.execute("SELECT code, icb_code FROM pcn ORDER BY code").fetchall()
        members = budget.execute(
            "SELECT m.practice_code, m.pcn_code, p.icb_code FROM practice_membership AS m "
            "JOIN pcn AS p ON p.code = m.pcn_code WHERE m.valid_to IS NULL ORDER BY m.practice_code"
        ).fetchall()
        posts = budget.execute("SELECT id, pcn_code, role_code, start_date FROM post ORDER BY id").fetchall()
        sizes = {
            "ICBs": budget.execute("SELECT count(*) FROM icb").fetchone()[0],  # type: ignore[index]
            "PCNs": len(pcns),
            "practices (current members)": len(members),
            "posts": len(posts),
            "claims": budget.execute("SELECT count(*) FROM claim").fetchone()[0],  # type: ignore[index]
            "ledger postings": budget.execute("SELECT count(*) FROM posting").fetchone()[0],  # type: ignore[index]
        }
    with psycopg.connect(_url(server, names["evaluation"])) as evaluation:
        for label, sql in (
            ("workload records", "SELECT count(*) FROM workload"),
            ("weeks of workload", "SELECT count(DISTINCT period_start) FROM workload WHERE grain = 'week'"),
            ("list sizes", "SELECT count(*) FROM list_size"),
            ("job plans", "SELECT count(*) FROM job_plan"),
            ("KPIs", "SELECT count(*) FROM kpi"),
            ("KPI measurements", "SELECT count(*) FROM kpi_measurement"),
        ):
            try:
                sizes[label] = evaluation.execute(sql).fetchone()[0]  # type: ignore[index]
            except psycopg.errors.UndefinedTable:
                evaluation.rollback()
        sizes["evaluation database (MB)"] = round(
            evaluation.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6  # type: ignore[index]
        )
    if not posts or not members:
        raise RuntimeError(f"{names['budget']} holds no posts or practices: load the data set first (make demo)")

    icb_of: dict[str, str] = dict(pcns)
    practices_of_icb: dict[str, list[str]] = defaultdict(list)
    practices_of_pcn: dict[str, list[str]] = defaultdict(list)
    for practice, pcn, icb in members:
        practices_of_icb[icb].append(practice)
        practices_of_pcn[pcn].append(practice)
    posts_of_pcn: dict[str, list[tuple[int, str, date]]] = defaultdict(list)
    for post_id, pcn, role, start in posts:
        posts_of_pcn[pcn].append((post_id, role, start))
    icbs = sorted(practices_of_icb, key=lambda c: (len(practices_of_icb[c]), c))

    # 1. Posts of several ICBs, from the smallest to the largest, whose windows have ended by as_of.
    chosen = _spread(icbs, args.analyses_shift_icbs) if len(icbs) > args.analyses_shift_icbs else icbs
    groups = []
    for icb in chosen:
        eligible = [
            (post_id, start)
            for pcn, own in sorted(posts_of_pcn.items())
            if icb_of[pcn] == icb
            for post_id, _role, start in own
            if _ended(start, as_of)
        ]
        picked = _spread(sorted(eligible), args.analyses_shift_posts)
        groups.append([(icb, post_id, start) for post_id, start in picked])
    shift = _interleave(groups)
    subjects = {
        "shift": Subjects(
            paths=[f"/v1/evaluations/posts/{post_id}/workload-shift?{query}" for _icb, post_id, _s in shift],
            params=[{"practices": practices_of_icb[icb], **_windows(start)} for icb, _p, start in shift],
            described=f"{len(shift)} posts of {len(chosen)} ICBs ({', '.join(chosen)}; from the fewest practices to "
            f"the most), every one whose windows of {WEEKS} weeks ended by {as_of}",
        )
    }

    # 2. PCNs of every ICB.
    by_icb = [[p for p, i in pcns if i == icb] for icb in sorted(practices_of_icb)]
    chosen_pcns = _spread(_interleave(by_icb), args.analyses_pcns)
    params = []
    for pcn in chosen_pcns:
        firsts: dict[str, date] = {}
        for _post_id, role, start in posts_of_pcn.get(pcn, []):
            firsts[role] = min(start, firsts.get(role, start))
        ended = sorted((role, start) for role, start in firsts.items() if _ended(start, as_of))
        windows = [_windows(start) for _role, start in ended]
        params.append(
            {
                "practices": practices_of_icb[icb_of[pcn]],
                "roles": [role for role, _start in ended],
                **{k: [w[k] for w in windows] for k in ("before_first", "start_week", "after_last")},
            }
        )
    subjects["scorecard"] = Subjects(
        paths=[f"/v1/scorecards/{pcn}?fy={fy}&{query}" for pcn in chosen_pcns],
        params=params,
        described=f"{len(chosen_pcns)} PCNs of {len({icb_of[p] for p in chosen_pcns})} ICBs",
        needle=COMPLETE,
    )

    # 3 and 4. Every ICB, in an order that mixes large and small.
    mixed = _interleave([icbs[: len(icbs) // 2], icbs[len(icbs) // 2 :][::-1]])
    subjects["retention"] = Subjects(
        paths=[f"/v1/evaluations/retention?icb_code={icb}&{query}" for icb in mixed],
        params=[{"icb_code": icb} for icb in mixed],
        described=f"all {len(mixed)} ICBs",
    )
    subjects["scorecards"] = Subjects(
        paths=[f"/v1/scorecards?icb_code={icb}&fy={fy}&{query}&limit=500" for icb in mixed],
        params=[{"pcn_codes": [p for p, i in pcns if i == icb], "icb_code": icb, "fy": fy} for icb in mixed],
        described=f"all {len(mixed)} ICBs (limit=500: every PCN of the ICB in one page)",
        needle=COMPLETE,
    )
    return DataSet(sizes=sizes, subjects=subjects, icb_practices={i: len(practices_of_icb[i]) for i in icbs})


def prepare_databases(server: str, databases: list[str], *, vacuum: bool) -> dict[str, Any]:
    """Whether the planner has statistics for the data set: the server's autovacuum setting and, per database,
    the tables never analysed; with ``vacuum``, ``VACUUM (ANALYZE)`` of each database that has any (timed)."""
    out: dict[str, Any] = {"databases": {}}
    with psycopg.connect(_url(server, "postgres")) as conn:
        out["autovacuum"] = str(conn.execute("SHOW autovacuum").fetchone()[0])  # type: ignore[index]
    for database in databases:
        with psycopg.connect(_url(server, database), autocommit=True) as conn:
            never = [
                str(r[0])
                for r in conn.execute(
                    "SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 0"
                    " AND last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY relname"
                ).fetchall()
            ]
            seen: dict[str, Any] = {"never_analysed": never}
            if never and vacuum:
                log(f"{database}: {len(never)} table(s) never analysed ({', '.join(never[:6])}…): VACUUM (ANALYZE)")
                began = time.perf_counter()
                conn.execute("VACUUM (ANALYZE)")
                seen["vacuum_analyze_s"] = round(time.perf_counter() - began, 1)
            out["databases"][database] = seen
    return out


# Measuring.


@dataclass
class Latencies:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int = 0
    incomplete: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank percentile of sorted values (as wrk's histogram reports them)."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _rotate_report(output: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("arrs-rotate: "):
            words = line.removeprefix("arrs-rotate: ").split()
            for name, value in zip(words[::2], words[1::2], strict=False):
                found[name] = float(value)
    return found


def run_wrk(
    wrk_bin: str, base: str, paths_file: Path, key: str, concurrency: int, seconds: float, needle: str | None
) -> tuple[Latencies, str]:
    threads = 1 if concurrency == 1 else 2
    command = [
        wrk_bin, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", f"{WRK_TIMEOUT_S}s",
        "--latency", "-H", f"X-API-Key: {key}", "-s", str(ROTATE_LUA), base, "--", str(paths_file), str(threads),
        *([needle] if needle else []),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_S + 60, check=False,
        start_new_session=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise wrk.WrkOutputError(f"wrk exited with {done.returncode}: {done.stderr}{done.stdout}")
    parsed = wrk.parse(done.stdout)
    extra = _rotate_report(done.stdout)
    if "p95" not in extra:
        raise wrk.WrkOutputError(f"bench/rotate.lua printed no percentiles:\n{done.stdout}")
    return (
        Latencies(
            requests=parsed.requests,
            seconds=parsed.duration_s,
            rps=parsed.rps,
            p50_ms=extra["p50"] / 1000,
            p95_ms=extra["p95"] / 1000,
            p99_ms=extra["p99"] / 1000,
            max_ms=extra["max"] / 1000,
            errors=parsed.socket_errors + int(extra.get("wrong_status", 0)),
            incomplete=int(extra.get("incomplete", 0)),
        ),
        done.stdout,
    )


def _statements(bare: Bare, urls: dict[str, str]) -> list[tuple[str, str]]:
    return [(urls[s.database], s.sql) for s in bare.statements]


def run_bare(
    statements: list[tuple[str, str]], params: list[dict[str, Any]], concurrency: int, seconds: float
) -> dict[str, Any]:
    """``concurrency`` threads, each with its own connection to each statement's database, run the
    statements (``(url, sql)``, one after the other: one bare query) over ``params`` in turn (thread n from
    n × len/concurrency) for ``seconds``; every row is fetched. Returns the latencies and the CPU time
    their backends spent."""
    connections = [[psycopg.connect(url, autocommit=True) for url, _sql in statements] for _ in range(concurrency)]
    try:
        pids = [conn.info.backend_pid for own in connections for conn in own]
        backend_cpu = sum(process_cpu_s(p) for p in pids)
        latencies: list[list[float]] = [[] for _ in range(concurrency)]
        rows: list[int] = [0] * concurrency
        failures: list[BaseException] = []
        start = threading.Barrier(concurrency + 1)
        deadline = [0.0]

        def worker(n: int) -> None:
            conns, own = connections[n], latencies[n]
            position = n * (len(params) // concurrency)
            start.wait()
            try:
                while time.perf_counter() < deadline[0]:
                    position = (position + 1) % len(params)
                    began = time.perf_counter()
                    for (_url, sql), conn in zip(statements, conns, strict=True):
                        rows[n] += len(conn.execute(sql, params[position]).fetchall())
                    own.append(time.perf_counter() - began)
            except BaseException as exc:  # noqa: BLE001 - reported after the join
                failures.append(exc)

        workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
        for w in workers:
            w.start()
        deadline[0] = time.perf_counter() + seconds
        began = time.perf_counter()
        start.wait()
        for w in workers:
            w.join(timeout=seconds + 120)
        elapsed = time.perf_counter() - began
        backend_cpu = sum(process_cpu_s(p) for p in pids) - backend_cpu
        if failures:
            raise RuntimeError(f"the bare query failed: {failures[0]!r}")
        ordered = sorted(x * 1000 for own in latencies for x in own)
        result = Latencies(
            requests=len(ordered),
            seconds=elapsed,
            rps=len(ordered) / elapsed,
            p50_ms=_percentile(ordered, 50),
            p95_ms=_percentile(ordered, 95),
            p99_ms=_percentile(ordered, 99),
            max_ms=ordered[-1] if ordered else float("nan"),
        )
        return {"latencies": result, "postgres_cpu_s": backend_cpu, "rows_per_query": sum(rows) / max(1, len(ordered))}
    finally:
        for conn in (c for own in connections for c in own):
            conn.close()


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU of one process (a PostgreSQL backend), from /proc; 0 once it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _rusage_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime


def _backend_pids(monitor: psycopg.Connection[Any], databases: list[str]) -> list[int]:
    rows = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()", [databases]
    ).fetchall()
    return [int(r[0]) for r in rows]


class Meter:
    """CPU of our servers, of PostgreSQL's backends, of wrk and this script, and of the machine, over a run."""

    def __init__(self, processes: Processes, monitor: psycopg.Connection[Any], databases: list[str]) -> None:
        self.processes, self.monitor, self.databases = processes, monitor, databases

    def __enter__(self) -> Meter:
        self.pids = self.processes.pids()
        self.before = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.backends_before = {p: process_cpu_s(p) for p in _backend_pids(self.monitor, self.databases)}
        self.own_before = _rusage_seconds()
        self.busy_before, self.wall_before = machine_busy_seconds(), time.monotonic()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.busy = machine_busy_seconds() - self.busy_before
        self.wall = time.monotonic() - self.wall_before
        self.own = _rusage_seconds() - self.own_before
        self.spent = {n: cpu_seconds(p) - self.before[n] for n, p in self.pids.items()}
        backends = set(self.backends_before) | set(_backend_pids(self.monitor, self.databases))
        # A backend that ended during the run takes its CPU time with it; one that began counts from 0.
        self.postgres = sum(max(0.0, process_cpu_s(p) - self.backends_before.get(p, 0.0)) for p in backends)

    def summary(self, requests: int) -> dict[str, Any]:
        accounted = sum(self.spent.values()) + self.postgres + self.own
        cores = os.cpu_count() or 1
        return {
            "cpu_ms_per_request": {
                **{n: s * 1000 / max(1, requests) for n, s in self.spent.items()},
                "postgres": self.postgres * 1000 / max(1, requests),
                "driver": self.own * 1000 / max(1, requests),
            },
            "foreign_cpu_share": max(0.0, self.busy - accounted) / (self.wall * cores) if self.wall > 0 else 0.0,
        }


def _log_size(processes: Processes, name: str) -> int:
    path = processes.log_dir / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def _log_lines(processes: Processes, name: str, start: int, end: int) -> list[dict[str, Any]]:
    path = processes.log_dir / f"{name}.log"
    if not path.exists():
        return []
    with path.open("rb") as f:
        f.seek(start)
        chunk = f.read(max(0, end - start)).decode(errors="replace")
    found = []
    for line in chunk.splitlines():
        if line.startswith("{") and '"duration_ms"' in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


SERVICE_PATHS = {  # how each analysis's own request looks in the evaluation (or gateway) log
    "shift": ("evaluation", "/workload-shift"),
    "scorecard": ("evaluation", "/summary"),
    "retention": ("evaluation", "/v1/evaluations/retention"),
    "scorecards": ("evaluation", "/v1/evaluations/pcn-summaries"),
}


def service_times(processes: Processes, item: str, marks: dict[str, tuple[int, int]], requests: int) -> dict[str, Any]:
    """From the services' own access logs over the run: the gateway's and the evaluation service's time per
    request (p50, p95), and the budget service's requests and time per analysis request."""
    out: dict[str, Any] = {}
    gateway = [x["duration_ms"] for x in _log_lines(processes, "gateway", *marks["gateway"]) if x.get("path")]
    service, needle = SERVICE_PATHS[item]
    evaluation = [
        x["duration_ms"] for x in _log_lines(processes, service, *marks[service]) if needle in str(x.get("path"))
    ]
    budget = _log_lines(processes, "budget", *marks["budget"])
    for name, values in (("gateway", gateway), ("evaluation", evaluation)):
        ordered = sorted(values)
        out[f"{name}_p50_ms"] = _percentile(ordered, 50)
        out[f"{name}_p95_ms"] = _percentile(ordered, 95)
        out[f"{name}_requests"] = len(ordered)
    out["budget_requests_per_request"] = len(budget) / max(1, requests)
    out["budget_ms_per_request"] = sum(x["duration_ms"] for x in budget) / max(1, requests)
    return out


# The platform.


def _env(names: dict[str, str], server: str, ports: dict[str, int], cache_ttl_s: float) -> dict[str, str]:
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    return {
        **os.environ,
        "ARRS_ENV": "development",
        "ARRS_ADMIN_API_KEY": DEV_ADMIN_API_KEY,
        "ARRS_GATEWAY_SECRET": DEV_GATEWAY_SECRET,
        "ROLES_DATABASE_URL": _url(server, names["roles"]),
        "BUDGET_DATABASE_URL": _url(server, names["budget"]),
        "EVALUATION_DATABASE_URL": _url(server, names["evaluation"]),
        "GATEWAY_DATABASE_URL": _url(server, names["gateway"]),
        "BUDGET_ROLES_URL": urls["roles"],
        "EVALUATION_BUDGET_URL": urls["budget"],
        "EVALUATION_ROLES_URL": urls["roles"],
        "EVALUATION_UPSTREAM_CACHE_TTL_S": f"{cache_ttl_s:g}",
        # Off: nothing kept at all, every analysis computed afresh; on: the defaults.
        "EVALUATION_ANALYSIS_CACHE_ENTRIES": "0" if cache_ttl_s == 0 else "512",
        "GATEWAY_ROLES_URL": urls["roles"],
        "GATEWAY_BUDGET_URL": urls["budget"],
        "GATEWAY_EVALUATION_URL": urls["evaluation"],
        "GATEWAY_RATE_LIMITS": "{}",
        "PYTHONUNBUFFERED": "1",
    }


def _start(processes: Processes, name: str, port: int, env: dict[str, str]) -> None:
    processes.start(name, uvicorn_command(f"{name}.main:app", port), env)
    processes.wait_healthy(name, f"http://{HOST}:{port}/readyz", HEALTH_TIMEOUT_S)


def _restart_evaluation(processes: Processes, port: int, env: dict[str, str]) -> None:
    """Stop the evaluation service alone and start it again with ``env`` (another cache TTL)."""
    processes.stop("evaluation")
    _start(processes, "evaluation", port, env)


def check_answers(gateway: str, key: str, data: DataSet, items: list[str], sample: int = 12) -> dict[str, Any]:
    """A few answers of each analysis, read once before anything is measured: 200, complete, and what they
    are (a workload shift's comparison group, a scorecard's parts)."""
    found: dict[str, Any] = {}
    with httpx.Client(base_url=gateway, headers={"X-API-Key": key}, timeout=120, trust_env=False) as client:
        for item in items:
            subjects = data.subjects[item]
            seen: dict[str, Any] = {"checked": 0, "ms": []}
            for path in _spread(subjects.paths, sample):
                began = time.perf_counter()
                answer = client.get(path)
                seen["ms"].append(round((time.perf_counter() - began) * 1000, 1))
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:500]}")
                if subjects.needle and subjects.needle not in answer.text:
                    raise RuntimeError(f"GET {path} is incomplete: {answer.json().get('parts_missing')}")
                body = answer.json()
                seen["checked"] += 1
                if item == "shift":
                    scope = body.get("comparison_scope") or f"no estimate ({body.get('reason')})"
                    seen.setdefault("comparison", defaultdict(int))[scope] += 1
                    seen.setdefault("n_comparison", []).append(body.get("n_comparison"))
                elif item == "scorecard":
                    seen.setdefault("roles", []).append(len(body.get("workload_shift") or []))
                elif item == "retention":
                    seen.setdefault("posts", []).append(sum(r["posts"] for r in body["data"]))
                else:
                    seen.setdefault("pcns", []).append(len(body["data"]))
            found[item] = {k: dict(v) if isinstance(v, defaultdict) else v for k, v in seen.items()}
            log(f"checked {seen['checked']} answers of {item}: " + json.dumps(found[item], default=str)[:300])
    return found


def prime(gateway: str, key: str, paths: Sequence[str]) -> dict[str, float]:
    """Every subject read once, one after another, before the cached state is measured: what a dashboard
    has already asked for once. Answers the count and the seconds it took."""
    began = time.perf_counter()
    with httpx.Client(base_url=gateway, headers={"X-API-Key": key}, timeout=120, trust_env=False) as client:
        for path in paths:
            answer = client.get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:500]}")
    took = round(time.perf_counter() - began, 1)
    log(f"primed: each of {len(paths)} subjects read once in {took} s")
    return {"subjects": len(paths), "seconds": took}


def _demo_loader_running() -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"-m tools.demo" in command:
                return True
    return False


def run(args: argparse.Namespace, *, command: str, revision: str) -> None:
    """The analyses part of ``make bench`` (``--only analyses``)."""
    wrk_bin = ensure_tool("wrk", "wrk")
    names = {s: f"{args.analyses_databases}_{s}" for s in ("roles", "budget", "evaluation", "gateway")}
    server = args.analyses_server
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    loader_before = _demo_loader_running()
    if loader_before:
        log("WARNING: a `python -m tools.demo` process is running: the data set may still be loading")
    statistics_state = prepare_databases(server, list(names.values()), vacuum=args.analyses_vacuum)
    log(f"reading the data set from {', '.join(names.values())}")
    data = read_data_set(args, names)
    log("data set: " + ", ".join(f"{k} {v:,}" for k, v in data.sizes.items()))
    temp = Path(tempfile.mkdtemp(prefix="arrs-bench-analyses-"))
    processes = Processes(temp)
    runs: list[dict[str, Any]] = []
    checks: dict[str, Any] = {}
    client_id = key = None
    gateway = ""
    for item in args.analyses_items:
        (temp / f"{item}.paths").write_text("\n".join(data.subjects[item].paths) + "\n")
    monitor = psycopg.connect(_url(server, "postgres"), autocommit=True)
    try:
        ports = dict(zip(("roles", "budget", "evaluation", "gateway"), free_ports(4), strict=True))
        gateway = f"http://{HOST}:{ports['gateway']}"
        first_ttl = 0.0 if args.analyses_cache[0] == "off" else DEFAULT_CACHE_TTL_S
        env = _env(names, server, ports, first_ttl)
        for name in ("roles", "budget", "evaluation", "gateway"):
            log(f"{name} on :{ports[name]} ({names.get(name)})")
            _start(processes, name, ports[name], env)
        made = httpx.post(
            f"{gateway}/v1/clients",
            json={"name": CLIENT_NAME, "kind": "dashboard", "org_codes": []},
            headers={"X-API-Key": DEV_ADMIN_API_KEY},
            timeout=30,
        )
        made.raise_for_status()
        client_id, key = made.json()["id"], made.json()["api_key"]
        log(f"created the API client {client_id} (a national dashboard) through the gateway")
        checks = check_answers(gateway, key, data, args.analyses_items)
        bare_urls = {s: _url(server, names[s]) for s in ("budget", "evaluation")}
        databases = list(names.values())
        primed: dict[str, dict[str, float]] = {}
        for cache in args.analyses_cache:
            ttl = 0.0 if cache == "off" else DEFAULT_CACHE_TTL_S
            if ttl != first_ttl or cache != args.analyses_cache[0]:
                log(
                    f"restarting the evaluation service with EVALUATION_UPSTREAM_CACHE_TTL_S={ttl:g}"
                    f" and EVALUATION_ANALYSIS_CACHE_ENTRIES={0 if ttl == 0 else 512}"
                )
                _restart_evaluation(processes, ports["evaluation"], _env(names, server, ports, ttl))
            for item in args.analyses_items:
                subjects, bare = data.subjects[item], BARE[item]
                paths_file = temp / f"{item}.paths"
                if cache == "on":
                    primed[item] = prime(gateway, key, subjects.paths)
                for c in args.analyses_concurrency:
                    if args.analyses_warmup > 0:
                        run_wrk(wrk_bin, gateway, paths_file, key, c, args.analyses_warmup, subjects.needle)
                    marks_before = {n: _log_size(processes, n) for n in ("gateway", "evaluation", "budget")}
                    with Meter(processes, monitor, databases) as meter:
                        result, _out = run_wrk(
                            wrk_bin, gateway, paths_file, key, c, args.analyses_duration, subjects.needle
                        )
                    marks = {n: (marks_before[n], _log_size(processes, n)) for n in marks_before}
                    measured = {
                        "cache": cache,
                        "item": item,
                        "concurrency": c,
                        "analysis": result.as_dict(),
                        **meter.summary(result.requests),
                        "service": service_times(processes, item, marks, result.requests),
                    }
                    if args.analyses_warmup > 0:
                        run_bare(_statements(bare, bare_urls), subjects.params, c, args.analyses_warmup)
                    with Meter(Processes(temp), monitor, []) as bare_meter:
                        got = run_bare(_statements(bare, bare_urls), subjects.params, c, args.analyses_duration)
                    bare_meter.postgres = got["postgres_cpu_s"]
                    bare_result: Latencies = got["latencies"]
                    measured["bare"] = {
                        **bare_result.as_dict(),
                        **bare_meter.summary(bare_result.requests),
                        "rows_per_query": got["rows_per_query"],
                    }
                    measured["ratio"] = result.rps / bare_result.rps if bare_result.rps else None
                    runs.append(measured)
                    s = measured["service"]
                    log(
                        f"cache {cache:3} {item:10} c={c:<2} {result.rps:7.1f} req/s p50 {result.p50_ms:7.1f} "
                        f"p95 {result.p95_ms:7.1f} p99 {result.p99_ms:7.1f} ms errors {result.errors} incomplete "
                        f"{result.incomplete} | bare {bare_result.rps:7.1f} q/s p95 {bare_result.p95_ms:6.1f} ms | "
                        f"ratio {measured['ratio']:.1%} | eval p50 {s['evaluation_p50_ms']:.0f} ms, budget "
                        f"{s['budget_requests_per_request']:.1f} req/req | "
                        f"other load {measured['foreign_cpu_share']:.0%}"
                    )
    finally:
        if client_id is not None and gateway:
            try:
                httpx.delete(f"{gateway}/v1/clients/{client_id}", headers={"X-API-Key": DEV_ADMIN_API_KEY}, timeout=30)
                log(f"revoked the API client {client_id}")
            except httpx.HTTPError as exc:
                log(f"could not revoke the API client {client_id}: {exc!r}")
        log("stopping the servers")
        processes.stop_all()
        monitor.close()
        if args.keep_temp:
            log(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)
    document = {
        "command": command,
        "revision": revision,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "databases": names,
        "sizes": data.sizes,
        "icb_practices": data.icb_practices,
        "subjects": {i: data.subjects[i].described for i in args.analyses_items},
        "bare": {
            i: {
                "database": ", ".join(names[d] for d in BARE[i].databases),
                "what": BARE[i].what,
                "sql": "\n".join(s.sql for s in BARE[i].statements),
            }
            for i in ITEMS
        },
        "checks": checks,
        "planner_statistics": statistics_state,
        "settings": {
            "as_of": args.analyses_as_of.isoformat(),
            "fy": args.analyses_fy,
            "duration_s": args.analyses_duration,
            "warmup_s": args.analyses_warmup,
            "primed": primed,
            "concurrency": args.analyses_concurrency,
            "cache": args.analyses_cache,
            "gateway_http": " ".join(http_options("gateway.main:app")),
            "service_http": " ".join(http_options("evaluation.main:app")),
        },
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": _cpu_model(),
            "memory_gib": _memory_gib(),
            "python": platform.python_version(),
            "postgres": _postgres_version(server),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "demo_loader_running": {"before": loader_before, "after": _demo_loader_running()},
        },
        "runs": runs,
    }
    markdown = report(document)
    print(markdown)
    write_section(args.results, "analyses", markdown)
    args.json_dir.mkdir(parents=True, exist_ok=True)
    (args.json_dir / "analyses-latest.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    log(f"wrote {args.results} and {args.json_dir / 'analyses-latest.json'}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return float("nan")


def _postgres_version(server: str) -> str:
    try:
        with psycopg.connect(_url(server, "postgres")) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except psycopg.Error:
        return "unknown"
