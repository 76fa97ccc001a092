"""``make bench``: what the gateway costs on a real read, against the service direct and against nginx;
then what submitting a claim costs on PostgreSQL (:mod:`bench.claims`), then bulk workload uploads against COPY
(:mod:`bench.ingest`), then what an upstream read costs the gateway through each HTTP client (:mod:`bench.reads`),
then the analyses on the national data set of ``make demo`` (:mod:`bench.analyses`; skipped when it is not
loaded). ``--only gateway|claims|ingest|reads|analyses`` runs one.

``GET /v1/rates?on=2024-11-01&geography=national`` on a freshly seeded SQLite catalogue, five ways
under the same wrk load: straight to the roles service (each request with signed principal headers of
its own, as the gateway sends them: a service accepts a signature once, so :mod:`bench.presigned` signs
the sets just before each run and a wrk script sends each once); through the gateway with the bootstrap
admin key (a constant-time compare, no lookup: the baseline "unauthenticated" gateway), with an API
client's key and with a bearer token for that client; and through nginx as the reference reverse proxy
(forwarding pre-signed sets, as direct). Beside them, in the same run, the floors (:mod:`bench.floors`):
the same answer from a bare FastAPI handler as bytes and as the route's response models, and from a
service app of the kit (its middleware, the signed principal, a read session); and wrk to the gateway's
own ``GET /healthz``, the proxy's floor. The gateway is served as ``make run`` serves it
(:func:`bench.servers.uvicorn_command`). The client is created through the running gateway first (its
own fresh SQLite database, rate limits off). Then the edge part (:mod:`bench.edge`): header floods
against the same gateway, and the per-request cost of the edge checks, signing and verifying, in µs.
Prints a table, overwrites the gateway section of ``bench/RESULTS.md`` and writes a JSON copy under
``bench/out/``.

The claims part writes its own section of ``bench/RESULTS.md`` (:mod:`bench.results` keeps each part's).
Every process it starts is stopped on the way out, also on Ctrl-C or SIGTERM; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from arrs_kit import principal as principal_module
from arrs_kit.principal import Principal, principal_headers
from arrs_kit.settings import DEV_ADMIN_API_KEY, DEV_GATEWAY_SECRET
from bench import analyses, claims, edge, floors, ingest, presigned, reads, report, wrk
from bench.auth import ApiClient, TokenSource, create_client, http
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
    nginx_config,
    uvicorn_command,
)
from gateway.config import DEFAULT_RATE_LIMITS, GatewaySettings

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
REQUEST_PATH = "/v1/rates"
REQUEST_QUERY = "on=2024-11-01&geography=national"
REQUEST = REQUEST_PATH + "?" + REQUEST_QUERY
BENCH_PRINCIPAL = Principal(kind="admin", client_id="bench")
PATHS = ("direct", "gateway", "gateway_key", "gateway_token", floors.HEALTHZ_PATH, "nginx", *floors.FLOOR_PATHS)
GATEWAY_PATHS = ("gateway", "gateway_key", "gateway_token")
# What wrk sends straight to the service (or through nginx), and to every floor (the very same requests):
# a signed principal set of its own per request.
SIGNED_PATHS = ("direct", "nginx", *floors.FLOOR_PATHS)
# The client the key and token paths use: a national dashboard (no org codes) may read the catalogue.
BENCH_CLIENT_NAME = "bench national dashboard"
BENCH_CLIENT_KIND = "dashboard"
# No bucket may limit the load: every kind unlimited, as the admin always is (GatewaySettings.rate_limits).
GATEWAY_RATE_LIMITS = "{}"
HEALTH_TIMEOUT_S = 60.0
SEED_TIMEOUT_S = 300.0
FOREIGN_LOAD_WARNING = 0.05

ERROR_LINE = re.compile(r'"level":\s*"error"')
"""A JSON log line at level error, however the JSON is spaced."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _command_line(argv: list[str]) -> str:
    python = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else sys.executable
    direct = shlex.join([python, "-m", "bench.run", *argv])
    if os.environ.get("MAKELEVEL"):
        make = "make bench" + (f" BENCH_ARGS={shlex.quote(shlex.join(argv))}" if argv else "")
        return f"`{make}` (runs `{direct}`)"
    return f"`{direct}`"


def _source_revision() -> str:
    """The commit measured, and whether the work tree differed from it (read-only git; no index refresh)."""
    git = ["git", "--no-optional-locks", "-C", str(REPO)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0:
        return "unknown (not a git work tree)"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.returncode == 1 else "")


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of the unreported warm-up run (default 2)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 32], help="wrk connections per run (default 1 32)"
    )
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS), help="which paths to measure")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure every path this many times, interleaved; report the median"
    )
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--json-dir", type=Path, default=BENCH_DIR / "out", help="where the JSON copy goes")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (database, server logs)")
    parser.add_argument(
        "--only",
        choices=("gateway", "claims", "ingest", "analyses", "reads"),
        help="run one benchmark (default: the gateway's, the claims', the ingest one, then the analyses')",
    )
    claims.add_arguments(parser)
    ingest.add_arguments(parser)
    reads.add_arguments(parser)
    analyses.add_arguments(parser)
    args = parser.parse_args(argv)
    claims.check_arguments(parser, args)
    analyses.check_arguments(parser, args)
    if args.duration < 1 or args.duration > 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if args.warmup < 0 or args.warmup > 60:
        parser.error("--warmup must be between 0 and 60 seconds")
    longest = _max_run_s()
    if longest is not None and max(args.duration, args.warmup) > longest:
        parser.error(f"--duration must be at most {longest:g} s: the signed principal headers expire")
    if args.rounds < 1 or args.rounds > 20:
        parser.error("--rounds must be between 1 and 20")
    if any(c < 1 or c > 1024 for c in args.concurrency):
        parser.error("--concurrency values must be between 1 and 1024")
    if "direct" not in args.paths:
        parser.error("--paths must include direct (everything is compared with it)")
    if {"gateway_key", "gateway_token"} & set(args.paths) and "gateway" not in args.paths:
        parser.error("--paths with gateway_key or gateway_token must include gateway (they are compared with it)")
    args.concurrency = sorted(set(args.concurrency))
    args.paths = [p for p in PATHS if p in args.paths]
    return args


def _threads(concurrency: int) -> int:
    return 1 if concurrency == 1 else 2


Headers = Callable[[float], dict[str, str]]
"""The headers of one request of a path, good for so many seconds (a token is fetched again before it expires).

For the signed paths these are good for ONE request only (the service refuses a nonce twice): a wrk run
gets a pool of sets of its own instead (:func:`_signed_pool`)."""


def _signed_headers(_run_s: float) -> dict[str, str]:
    """The gateway's signed principal headers for one ``GET /v1/rates``, as the service will check them
    (method, path, query, empty body, a new nonce, no request id)."""
    return principal_headers(BENCH_PRINCIPAL, DEV_GATEWAY_SECRET, method="GET", path=REQUEST_PATH, query=REQUEST_QUERY)


def _signed_pool(directory: Path, run_s: float, threads: int, connections: int, rps: float) -> presigned.Pool:
    return presigned.write_pool(
        directory,
        principal=BENCH_PRINCIPAL,
        secret=DEV_GATEWAY_SECRET,
        path=REQUEST_PATH,
        query=REQUEST_QUERY,
        run_s=run_s,
        threads=threads,
        connections=connections,
        rps=rps,
    )


def _gateway_headers(_run_s: float) -> dict[str, str]:
    return {"X-API-Key": DEV_ADMIN_API_KEY}


def _max_run_s() -> float | None:
    """The longest wrk run the signed headers stay good for, if they expire."""
    skew = getattr(principal_module, "MAX_SKEW_S", None)
    return None if skew is None else 2 * float(skew) - 10


def _gateway_settings(env: dict[str, str]) -> dict[str, str]:
    """The gateway settings that bear on authentication, as the gateway will read them from ``env``."""
    fields = GatewaySettings.model_fields
    return {
        "GATEWAY_RATE_LIMITS": env["GATEWAY_RATE_LIMITS"],
        "GATEWAY_CREDENTIAL_CACHE_S": env.get(
            "GATEWAY_CREDENTIAL_CACHE_S", f"{fields['credential_cache_s'].default:g} (default)"
        ),
        "GATEWAY_TOKEN_TTL_S": env.get("GATEWAY_TOKEN_TTL_S", f"{fields['token_ttl_s'].default} (default)"),
    }


def _check_same_answer(urls: dict[str, str], headers: dict[str, Headers]) -> dict[str, bytes]:
    """Every path answers 200 with the same JSON before anything is measured; returns each one's bytes."""
    bodies: dict[str, Any] = {}
    raw: dict[str, bytes] = {}
    # Each path's very first request: an API key or token not yet seen by the gateway must be good too.
    for path, url in urls.items():
        status, body = http(url, headers=headers[path](0))
        if status != 200:
            raise RuntimeError(f"{path}: GET {url} answered {status}: {body[:500]!r}")
        bodies[path] = json.loads(body)
        raw[path] = body
    if not bodies["direct"].get("data"):
        raise RuntimeError(f"the seeded catalogue has no rates for {REQUEST}: {bodies['direct']}")
    for path, body in bodies.items():
        if body != bodies["direct"]:
            raise RuntimeError(f"{path} answers differently from the service direct")
    return raw


def _check_revocation(gateway: str, client: ApiClient, tokens: TokenSource) -> dict[str, Any]:
    """After the runs: revoke the client through the gateway; its key and its token must be refused on
    the very next request, although both were verified (and may be cached) a moment before."""
    url = gateway + REQUEST
    key_headers, token_headers = {"X-API-Key": client.api_key}, tokens.headers(0)
    before = {name: http(url, headers=h)[0] for name, h in (("key", key_headers), ("token", token_headers))}
    status, body = http(
        f"{gateway}/v1/clients/{client.client_id}", headers={"X-API-Key": DEV_ADMIN_API_KEY}, method="DELETE"
    )
    if status != 204:
        raise RuntimeError(f"DELETE /v1/clients/{client.client_id} answered {status}: {body[:500]!r}")
    key_status = http(url, headers=key_headers)[0]
    token_status = http(url, headers=token_headers)[0]
    return {
        "client_id": client.client_id,
        "key_status_before": before["key"],
        "token_status_before": before["token"],
        "key_status": key_status,
        "token_status": token_status,
        "immediate": before == {"key": 200, "token": 200} and key_status == 401 and token_status == 401,
    }


class _Wrk:
    """One wrk run of a path: with the path's fixed headers, or (signed paths) with a pool of signed sets
    made on :meth:`prepare`, just before the run, and checked and removed after it."""

    def __init__(self, wrk_bin: str, url: str, headers: Headers, *, signed: bool, pool_dir: Path) -> None:
        self.wrk_bin, self.url, self.headers, self.signed, self.pool_dir = wrk_bin, url, headers, signed, pool_dir
        self.pool: presigned.Pool | None = None

    def prepare(self, run_s: float, threads: int, connections: int, rps_seen: float | None) -> None:
        if self.signed:
            self.pool = _signed_pool(self.pool_dir, run_s, threads, connections, presigned.bound_rps(rps_seen))

    def run(self, run_s: float, threads: int, connections: int) -> tuple[wrk.WrkResult, str, dict[str, Any] | None]:
        if self.signed and self.pool is None:
            raise RuntimeError(f"{self.url}: a signed run needs a pool of its own (prepare() first)")
        if self.pool is None:
            result, output = wrk.run(
                self.wrk_bin, self.url, threads=threads, connections=connections, duration_s=run_s,
                headers=self.headers(run_s),
            )  # fmt: skip
            return result, output, None
        pool, self.pool = self.pool, None
        try:
            result, output = wrk.run(
                self.wrk_bin, self.url, threads=threads, connections=connections, duration_s=run_s,
                script=presigned.LUA_SCRIPT, script_args=pool.script_args(),
            )  # fmt: skip
            used = presigned.check_usage(output, pool, result.requests)
        finally:
            pool.remove()
        return result, output, {**pool.as_dict(), "used": used}


def _measure(
    runner: _Wrk,
    concurrency: int,
    args: argparse.Namespace,
    processes: Processes,
    involved: list[str],
) -> dict[str, Any]:
    """A warm-up run (not reported), then the measured run with the CPU each involved server spent on it."""
    threads = _threads(concurrency)
    warmup_rps: float | None = None
    if args.warmup > 0:
        runner.prepare(args.warmup, threads, concurrency, None)
        warm, _output, _pool = runner.run(args.warmup, threads, concurrency)
        warmup_rps = warm.rps
    runner.prepare(args.duration, threads, concurrency, warmup_rps)  # signed sets: before the CPU is read
    pids = processes.pids()
    ours = list(pids)
    before = {name: cpu_seconds(pids[name]) for name in ours}
    children_before, self_before = _rusage_seconds()
    busy_before, wall_before = machine_busy_seconds(), time.monotonic()
    result, output, pool = runner.run(args.duration, threads, concurrency)
    busy, wall = machine_busy_seconds() - busy_before, time.monotonic() - wall_before
    children_after, self_after = _rusage_seconds()
    after = {name: cpu_seconds(pids[name]) for name in ours}
    spent = {name: after[name] - before[name] for name in ours}
    cpu = {name: spent[name] * 1000 / max(1, result.requests) for name in involved}
    # What the machine was busy with besides our servers, wrk and this script: other people's work.
    accounted = sum(spent.values()) + (children_after - children_before) + (self_after - self_before)
    cores = os.cpu_count() or 1
    foreign = max(0.0, busy - accounted) / (wall * cores) if wall > 0 else 0.0
    return {
        "wrk": result,
        "cpu_ms_per_request": cpu,
        "foreign_cpu_share": foreign,
        "wrk_output": output,
        "presigned": pool,
        "warmup_rps": warmup_rps,
    }


def _edge(gateway_url: str, processes: Processes) -> dict[str, Any]:
    """The edge part (:mod:`bench.edge`), after the wrk runs: floods against the running gateway, then the
    checks' cost in µs, timed in this process while the servers are idle."""
    log(
        f"edge: {edge.FLOOD_FIELDS:,} header fields, then one field of {edge.BIG_FIELD_BYTES // 1024:,} KiB, "
        "each with /healthz polled meanwhile on another connection"
    )
    floods = edge.floods(gateway_url, DEV_ADMIN_API_KEY, REQUEST, processes.pids().get("gateway"))
    for flood in floods:
        during, quiet = flood.healthz_during, flood.healthz_quiet
        log(
            f"edge: {flood.what}: {flood.status} {flood.problem_type} after {flood.answer_ms:.1f} ms, gateway CPU "
            + ("n/a" if flood.gateway_cpu_ms is None else f"{flood.gateway_cpu_ms:.1f} ms")
            + f"; /healthz during it: {during.count} answered, p50 {during.p50_ms:.2f} ms, max {during.max_ms:.2f} ms"
            f" ({during.errors} not 200); before it: p50 {quiet.p50_ms:.2f} ms, max {quiet.max_ms:.2f} ms"
        )
    micro = edge.micro(DEV_GATEWAY_SECRET)
    for m in micro:
        log(f"edge: {m.name:16} {m.best_us:7.2f} µs per call (median of {edge.REPEAT}: {m.median_us:.2f})")
    fields = GatewaySettings.model_fields
    return {
        "request": REQUEST,
        "limits": {
            "GATEWAY_MAX_HEADER_COUNT": fields["max_header_count"].default,
            "GATEWAY_MAX_HEADER_BYTES": fields["max_header_bytes"].default,
        },
        "floods": [flood.as_dict() for flood in floods],
        "micro": [m.as_dict() for m in micro],
        "repeat": edge.REPEAT,
        "quiet_s": edge.QUIET_S,
    }


def _rusage_seconds() -> tuple[float, float]:
    """CPU time of this script's reaped children (the wrk runs) and of this script itself."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime, own.ru_utime + own.ru_stime


def _service_notes(results: dict[str, dict[int, report.Measurement]], concurrencies: list[int]) -> list[str]:
    """What the figures say about the roles service itself, when it gets costlier under concurrency."""
    low, high = min(concurrencies), max(concurrencies)
    if low == high or low not in results["direct"] or high not in results["direct"]:
        return []
    at_low = results["direct"][low].cpu_ms_per_request.get("roles", 0.0)
    at_high = results["direct"][high].cpu_ms_per_request.get("roles", 0.0)
    if at_low <= 0 or at_high < 1.25 * at_low:
        return []
    return [
        f"Direct, the roles service spent {at_high:.2f} ms of CPU per request at concurrency {high} against "
        f"{at_low:.2f} ms at concurrency {low}: it gets costlier with many requests in flight, so its direct "
        f"throughput at {high} is held down, and a proxy that keeps fewer requests in flight at the service (the "
        "gateway, when it is itself the bottleneck) can come out ahead of direct. Those ratios say more about "
        "the service than about the proxy; the service and proxy CPU/req columns separate the two. Figures at "
        f"concurrency {high} vary from run to run: `--rounds 3` reports medians."
    ]


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse_args(argv)
    command = _command_line(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    if args.only in (None, "gateway"):
        _gateway(args, command)
    if args.only in (None, "claims"):
        claims.run(args, command=command, revision=_source_revision())
    if args.only in (None, "ingest"):
        ingest.run(args, command=command)
    if args.only in (None, "reads"):
        reads.run(args, command=command)
    if args.only == "analyses" or (args.only is None and analyses.loaded(args)):
        analyses.run(args, command=command, revision=_source_revision())
    return 0


def _gateway(args: argparse.Namespace, command: str) -> None:
    wrk_bin = ensure_tool("wrk", "wrk")
    nginx_bin = ensure_tool("nginx", "nginx") if "nginx" in args.paths else "nginx"
    started = _now()
    machine = report.machine_info(nginx=nginx_bin, wrk=wrk_bin)
    revision = _source_revision()

    temp = Path(tempfile.mkdtemp(prefix="arrs-bench-"))
    processes = Processes(temp)
    results: dict[str, dict[int, report.Measurement]] = {p: {} for p in args.paths}
    rounds: dict[str, dict[int, list[dict[str, Any]]]] = {p: {} for p in args.paths}
    signed_runs: dict[str, dict[int, dict[str, Any]]] = {}
    notes: list[str] = []
    revocation: dict[str, Any] | None = None
    edge_results: dict[str, Any] | None = None
    tokens_issued = 0
    try:
        roles_port, gateway_port, nginx_port, *floor_ports = free_ports(3 + len(floors.FLOOR_PATHS))
        env = {
            **os.environ,
            "ARRS_ENV": "development",
            "ARRS_ADMIN_API_KEY": DEV_ADMIN_API_KEY,
            "ARRS_GATEWAY_SECRET": DEV_GATEWAY_SECRET,
            "ROLES_DATABASE_URL": f"sqlite:///{temp / 'roles.db'}",
            "GATEWAY_ROLES_URL": f"http://{HOST}:{roles_port}",
            "GATEWAY_DATABASE_URL": f"sqlite:///{temp / 'gateway.db'}",
            "GATEWAY_RATE_LIMITS": GATEWAY_RATE_LIMITS,
            "PYTHONUNBUFFERED": "1",
        }
        gateway_settings = _gateway_settings(env)
        log(f"seeding a fresh catalogue in {temp / 'roles.db'}")
        subprocess.run(
            [sys.executable, "-m", "roles", "seed"], env=env, cwd=REPO, check=True, timeout=SEED_TIMEOUT_S,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

        base = {"direct": f"http://{HOST}:{roles_port}"}
        log(f"roles service on :{roles_port}")
        processes.start("roles", uvicorn_command("roles.main:app", roles_port), env)
        processes.wait_healthy("roles", f"{base['direct']}/healthz", HEALTH_TIMEOUT_S)
        headers: dict[str, Headers] = {"direct": _signed_headers, "gateway": _gateway_headers, "nginx": _signed_headers}
        client: ApiClient | None = None
        tokens: TokenSource | None = None
        gateway_url = f"http://{HOST}:{gateway_port}"
        if {*GATEWAY_PATHS, floors.HEALTHZ_PATH} & set(args.paths):
            log(f"migrating a fresh gateway database in {temp / 'gateway.db'}")
            subprocess.run(
                [sys.executable, "-m", "gateway", "migrate"], env=env, cwd=REPO, check=True, timeout=SEED_TIMEOUT_S,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            log(f"gateway on :{gateway_port} (GATEWAY_RATE_LIMITS={GATEWAY_RATE_LIMITS}: no bucket limits the load)")
            processes.start("gateway", uvicorn_command("gateway.main:app", gateway_port), env)
            processes.wait_healthy("gateway", f"{gateway_url}/healthz", HEALTH_TIMEOUT_S)
            client = create_client(
                gateway_url, DEV_ADMIN_API_KEY, name=BENCH_CLIENT_NAME, kind=BENCH_CLIENT_KIND, org_codes=[]
            )
            log(f"created the API client {client.client_id} ({client.kind}, no org codes) through the gateway")
            tokens = TokenSource(gateway_url, client)
            api_key = client.api_key
            headers["gateway_key"] = lambda _run_s: {"X-API-Key": api_key}
            headers["gateway_token"] = tokens.headers
            base.update(dict.fromkeys((*GATEWAY_PATHS, floors.HEALTHZ_PATH), gateway_url))
            headers[floors.HEALTHZ_PATH] = lambda _run_s: {}
        if "nginx" in args.paths:
            base["nginx"] = f"http://{HOST}:{nginx_port}"
            prefix = temp / "nginx"
            (prefix / "temp").mkdir(parents=True)
            prefix.chmod(0o755)
            temp.chmod(0o755)  # nginx's workers run as an unprivileged user when started as root
            conf = prefix / "nginx.conf"
            conf.write_text(nginx_config(prefix=prefix, port=nginx_port, upstream_port=roles_port))
            log(f"nginx on :{nginx_port}")
            nginx_cmd = [nginx_bin, "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")]
            processes.start("nginx", [*nginx_cmd, "-g", "daemon off;"], env)
            processes.wait_healthy("nginx", f"{base['nginx']}/healthz", HEALTH_TIMEOUT_S)

        answer = floors.fetch_answer(base["direct"] + REQUEST, _signed_headers(0))
        base |= floors.start(
            processes, args.paths, dict(zip(floors.FLOOR_PATHS, floor_ports, strict=True)), env, temp, answer
        )
        headers |= dict.fromkeys(floors.FLOOR_PATHS, _signed_headers)
        urls = {p: base[p] + REQUEST for p in args.paths if p != floors.HEALTHZ_PATH}
        involved = {
            "direct": ["roles"],
            "nginx": ["roles", "nginx"],
            **{p: ["roles", "gateway"] for p in GATEWAY_PATHS},
            floors.HEALTHZ_PATH: ["gateway"],
            **{p: [p] for p in floors.FLOOR_PATHS},
        }
        bodies = _check_same_answer(urls, headers)
        body_size = len(bodies["direct"])
        log(f"every path answers 200 with the same {body_size}-byte body")
        floor_settings: dict[str, Any] = {
            "answer_bytes": len(answer.body),
            "media_type": answer.media_type,
            "sameness": floors.sameness(bodies),
            "kit_floor_statements_per_request": 0,
        }
        for path, verdict in floor_settings["sameness"].items():
            log(f"{path}: {verdict} to direct")
        if floors.HEALTHZ_PATH in args.paths:
            urls[floors.HEALTHZ_PATH] = base[floors.HEALTHZ_PATH] + "/healthz"
            floors.check_healthz(*http(urls[floors.HEALTHZ_PATH]))
            log("the gateway's /healthz answers 200")

        for round_no in range(1, args.rounds + 1):
            # Each round starts the paths one further along, so no path always follows the same one.
            shift = (round_no - 1) % len(args.paths)
            order = args.paths[shift:] + args.paths[:shift]
            for c in args.concurrency:
                for path in order:
                    runner = _Wrk(wrk_bin, urls[path], headers[path], signed=path in SIGNED_PATHS, pool_dir=temp)
                    run = _measure(runner, c, args, processes, involved[path])
                    rounds[path].setdefault(c, []).append({"round": round_no, **run})
                    r: wrk.WrkResult = run["wrk"]
                    log(
                        f"round {round_no}/{args.rounds} {path:13} c={c:<3} {r.rps:>9,.0f} req/s  "
                        f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  errors {r.error_text()}  CPU/req "
                        + ", ".join(f"{k} {v:.2f} ms" for k, v in run["cpu_ms_per_request"].items())
                        + f"  other load {run['foreign_cpu_share']:.0%}"
                        + (
                            f"  signed sets used {run['presigned']['used']:,} of {run['presigned']['sets']:,}"
                            if run["presigned"]
                            else ""
                        )
                    )
        if client is not None and tokens is not None:
            revocation = _check_revocation(gateway_url, client, tokens)
            log(
                f"revoked {client.client_id}: next request with its key answered {revocation['key_status']}, "
                f"with its token {revocation['token_status']}"
            )
        if "gateway" in args.paths:
            edge_results = _edge(gateway_url, processes)
        for path, by_c in rounds.items():
            for c, runs in by_c.items():
                ranked = sorted(runs, key=lambda run: run["wrk"].rps)
                median = ranked[(len(ranked) - 1) // 2]
                results[path][c] = report.Measurement(
                    wrk=median["wrk"],
                    cpu_ms_per_request=median["cpu_ms_per_request"],
                    foreign_cpu_share=median["foreign_cpu_share"],
                    rounds_rps=[run["wrk"].rps for run in runs],
                )
                if median["presigned"]:
                    signed_runs.setdefault(path, {})[c] = median["presigned"]
        for name in ("roles", "gateway", "nginx", *floors.FLOOR_PATHS):
            process_log = temp / f"{name}.log"
            if process_log.exists():
                text = process_log.read_text(errors="replace")
                problems = [line for line in text.splitlines() if ERROR_LINE.search(line) or "Traceback" in line]
                if problems:
                    notes.append(f"{name} logged {len(problems)} error line(s); first: `{problems[0][:200]}`")
        busiest = max(run["foreign_cpu_share"] for by_c in rounds.values() for runs in by_c.values() for run in runs)
        if busiest > FOREIGN_LOAD_WARNING:
            notes.append(
                f"Other work used up to {busiest:.0%} of the machine's CPU during a measured run (see the "
                "'other load' column): those figures are disturbed; re-run on a quiet machine."
            )
        notes += _service_notes(results, args.concurrency)
        tokens_issued = tokens.issued if tokens is not None else 0
    finally:
        log("stopping the servers")
        processes.stop_all()
        if args.keep_temp:
            log(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)

    finished = _now()
    settings = {
        "request": REQUEST,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "concurrency": args.concurrency,
        "threads": {c: _threads(c) for c in args.concurrency},
        "rounds": args.rounds,
        "revision": revision,
        "response_bytes": body_size,
        "gateway": gateway_settings,
        "bench_client": {"kind": BENCH_CLIENT_KIND, "org_codes": []},
        "bench_client_default_rate_limit": DEFAULT_RATE_LIMITS.get(BENCH_CLIENT_KIND),
        "tokens_issued": tokens_issued,
        "revocation": revocation,
        "presigned": {
            "ceiling_rps": presigned.CEILING_RPS,
            "warmup_factor": presigned.WARMUP_FACTOR,
            "floor_rps": presigned.FLOOR_RPS,
            "runs": signed_runs,
        },
        "gateway_http": " ".join(http_options("gateway.main:app")),
        "service_http": " ".join(http_options("roles.main:app")),
        "floors": floor_settings,
    }
    rows = report.table(results, args.concurrency)
    print()
    print(report.console_table(rows))
    cmp = report.comparisons(results, args.concurrency, revocation=revocation)
    print()
    for path, ratios in cmp["rps_ratio"].items():
        print(f"{path} rps / direct rps: " + ", ".join(f"c={c}: {v:.1%}" for c, v in ratios.items() if v is not None))
    for path, added in cmp["added_p50_ms"].items():
        print(f"{path} added p50 vs direct: " + ", ".join(f"c={c}: {v:+.2f} ms" for c, v in added.items()))
    for path, ratios in cmp["auth_rps_ratio"].items():
        print(
            f"{path} rps / gateway (admin key) rps: "
            + ", ".join(f"c={c}: {v:.1%}" for c, v in ratios.items() if v is not None)
        )
    for path, added in cmp["auth_added_cpu_ms"].items():
        print(
            f"{path} gateway CPU/req vs admin key: " + ", ".join(f"c={c}: {v * 1000:+.0f} µs" for c, v in added.items())
        )
    for line in floors.console(cmp):
        print(line)
    for target in cmp["targets"]:
        if target["value"] == "not measured":
            print(f"target: {target['target']}: not measured")
            continue
        verdict = "met" if target["met"] else "NOT met"
        print(f"target: {target['target']}: {target['value']} -> {verdict} {target['note']}".rstrip())
    if edge_results is not None:
        print()
        print("\n".join(report.edge_console(edge_results, results, args.concurrency)))

    write_section(
        args.results,
        "gateway",
        report.markdown(
            command=command,
            started=started,
            finished=finished,
            machine=machine,
            settings=settings,
            results=results,
            concurrencies=args.concurrency,
            notes=notes,
            revocation=revocation,
            edge=edge_results,
        ),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for json_path in (args.json_dir / f"rates-{stamp}.json", args.json_dir / "latest.json"):
        report.write_json(
            json_path,
            command=command,
            started=started,
            finished=finished,
            machine=machine,
            settings=settings,
            results=results,
            concurrencies=args.concurrency,
            revocation=revocation,
            edge=edge_results,
            rounds={
                p: {c: [{**run, "wrk": run["wrk"].as_dict()} for run in runs] for c, runs in by_c.items()}
                for p, by_c in rounds.items()
            },
        )
    log(f"wrote {os.path.relpath(args.results, REPO)} and {os.path.relpath(args.json_dir, REPO)}/latest.json")


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("[bench] interrupted; every server was stopped", file=sys.stderr)
        raise SystemExit(130) from None
