"""``python -m bench.ingest``: bulk workload uploads through a real gateway on PostgreSQL, against COPY.

A gateway and an evaluation service (uvicorn, as ``make run`` serves them), the service on a fresh
PostgreSQL database. The admin creates a practice-system client through the gateway for the practices
of the data; that client posts ``--rows`` weekly records (default 1,000,000: 129 practices × 52 weeks
× 150 keys per practice-week, cut at the count) as NDJSON, then the same rows as CSV, each into an
emptied table, then the NDJSON again onto the stored rows (every key replaced). Each upload is read
from a file the benchmark wrote first, so what is timed is the platform: client → gateway (spooled,
hashed) → service (parsed, checked, COPYed into a staging table, merged: a plain ``INSERT … SELECT``
when none of the batch's periods is stored, else ``INSERT … ON CONFLICT DO UPDATE``).

The reference: the same rows, as Python tuples, COPYed by psycopg (``write_row``, the driver the
service uses) straight into a table of the same definition (columns, primary key, partial index)
in the same database and round: what loading costs with no HTTP, no parsing, no checks and no upsert.
The three uploads are one round, ``--rounds`` (default 3) repeats them on the same servers; COPY runs
before and after each upload, and an upload is compared with the mean of the two beside it, so that
load from elsewhere on a shared machine weighs on both sides of the ratio alike. The report gives the
spread and the median over the rounds.
Reported: rows/s of each upload and of COPY, their ratio (the issue's target: at least 40% of COPY),
each process's peak RSS (VmHWM) and CPU time, the service's own split (body read and staged vs merge,
and the merge's statements with their seconds, from its log), the machine's load average before and
after, and the time a national year of weekly data would take at the measured rate.
Writes the ``ingest`` section of ``bench/RESULTS.md`` and ``bench/out/ingest-latest.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import orjson
import psycopg

from arrs_kit.settings import DEV_ADMIN_API_KEY, DEV_GATEWAY_SECRET, normalise_database_url
from bench.results import write_section
from bench.servers import HOST, Processes, cpu_seconds, free_ports, log, machine_busy_seconds, uvicorn_command

REPO = Path(__file__).resolve().parent.parent
ROLES = ("gp", "nurse", "clinical_pharmacist", "paramedic", "other_practice_staff", "unknown")
CATEGORIES = (
    "general_consultation_routine",
    "general_consultation_acute",
    "clinical_triage",
    "planned_clinics",
    "structured_medication_review",
)
MODES = ("face_to_face", "telephone", "video_online", "home_visit", "unknown")
KEYS_PER_WEEK = len(ROLES) * len(CATEGORIES) * len(MODES)  # 150
NATIONAL_PRACTICES = 6_300
NATIONAL_ROWS = NATIONAL_PRACTICES * 52 * KEYS_PER_WEEK
TARGET_SHARE = 0.40
COLUMNS: tuple[str, ...] = ("practice_code", "grain", "period_start", "hcp_role", "national_category", "mode")
COLUMNS += ("status", "appointments", "minutes")
HEALTH_TIMEOUT_S = 60.0
UPLOAD_TIMEOUT_S = 1800.0


def rows(count: int) -> Iterator[tuple[Any, ...]]:
    """The benchmark's records, as rows: practice by practice, week by week; deterministic."""
    weeks = [(date(2025, 1, 6) + timedelta(weeks=n)).isoformat() for n in range(52)]
    combos = list(itertools.product(ROLES, CATEGORIES, MODES))
    n = 0
    for practice in itertools.count(1):
        for week in weeks:
            for i, (role, category, mode) in enumerate(combos):
                status = "dna" if i % 7 == 0 else "attended"
                yield (f"B{practice:05d}", "week", week, role, category, mode, status, n % 97, n % 301)
                n += 1
                if n == count:
                    return


def practices(count: int) -> list[str]:
    return sorted({row[0] for row in rows(count)})


def write_bodies(count: int, directory: Path) -> dict[str, Path]:
    ndjson, csv = directory / "workload.ndjson", directory / "workload.csv"
    keys = COLUMNS
    with ndjson.open("w") as nd, csv.open("w") as cs:
        cs.write(",".join(keys) + "\n")
        for row in rows(count):
            nd.write(json.dumps(dict(zip(keys, row, strict=True)), separators=(",", ":")) + "\n")
            cs.write(",".join(map(str, row)) + "\n")
    return {"ndjson": ndjson, "csv": csv}


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as body:
        while chunk := body.read(1 << 16):
            yield chunk


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def service_split(log_path: Path) -> list[dict[str, Any]]:
    """The evaluation service's ``bulk upload merged`` log lines, in order."""
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        if '"bulk upload merged"' in line:
            found.append(json.loads(line))
    return found


def raw_copy(url: str, data: list[tuple[Any, ...]], *, anatomy: bool) -> tuple[float, dict[str, float]]:
    """Seconds to COPY the rows (tuples made beforehand) into a table like ``workload``, committed;
    with ``anatomy``, then the anatomy of the merge on the same rows: from a staging table into an empty table like
    ``workload``, a plain ``INSERT … SELECT`` (the service's merge of new keys), the same in primary-key
    order (``ORDER BY``, measured and not adopted: the sort costs more than it saves) and the service's
    ``INSERT … ON CONFLICT DO UPDATE`` (its merge when keys are stored)."""
    columns = ", ".join(COLUMNS)
    key = ", ".join(COLUMNS[:7])
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_workload")
        conn.execute("CREATE TABLE bench_raw_workload (LIKE workload INCLUDING ALL)")
        conn.commit()
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY bench_raw_workload ({columns}, upload_id) FROM STDIN") as copy:
            for row in data:
                copy.write_row((*row, 0))
        conn.commit()
        seconds = time.perf_counter() - started
        timings: dict[str, float] = {}
        if not anatomy:
            conn.execute("DROP TABLE bench_raw_workload")
            conn.commit()
            return seconds, timings
        conn.execute(f"CREATE TABLE bench_stage AS SELECT {columns} FROM bench_raw_workload")
        upsert = (
            f"ON CONFLICT ({key}) DO UPDATE SET appointments = EXCLUDED.appointments, minutes = EXCLUDED.minutes "
            "WHERE (t.appointments, t.minutes) IS DISTINCT FROM (EXCLUDED.appointments, EXCLUDED.minutes)"
        )
        for name, tail in (
            ("insert_select_s", ""),
            ("insert_select_ordered_s", f"ORDER BY {key}"),
            ("insert_on_conflict_s", upsert),
        ):
            conn.execute("TRUNCATE bench_raw_workload")
            conn.commit()
            conn.execute("CHECKPOINT")
            started = time.perf_counter()
            select = f"SELECT {columns}, 0 FROM bench_stage"
            conn.execute(f"INSERT INTO bench_raw_workload AS t ({columns}, upload_id) {select} {tail}")
            conn.commit()
            timings[name] = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw_workload, bench_stage")
        conn.commit()
    return seconds, timings


def json_parsers(path: Path) -> dict[str, float]:
    """Seconds to parse every line of the NDJSON body with the standard library and with orjson (the
    dependency the service's NDJSON reader takes, measured here to justify it)."""
    lines = path.read_bytes().splitlines()
    timings = {}
    for name, loads in (("json", json.loads), ("orjson", orjson.loads)):
        started = time.perf_counter()
        for line in lines:
            loads(line)
        timings[name] = time.perf_counter() - started
    return timings


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records per upload (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three uploads (default 3)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ARRS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server (maintenance database) where the benchmark may create and drop a database",
    )
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--json-dir", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (bodies, server logs)")
    return parser.parse_args(argv)


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``bench.run``'s options for this part (its PostgreSQL server is ``--claims-postgres-url``)."""
    group = parser.add_argument_group("ingest benchmark (PostgreSQL)")
    group.add_argument("--ingest-rows", type=int, default=1_000_000, help="records per upload (default 1,000,000)")
    group.add_argument("--ingest-rounds", type=int, default=3, help="rounds of the three uploads (default 3)")


def run(args: argparse.Namespace, *, command: str) -> None:
    """The ingest part of ``make bench`` (``--only ingest``)."""
    measure(
        argparse.Namespace(
            rows=args.ingest_rows,
            rounds=args.ingest_rounds,
            postgres_url=args.claims_postgres_url,
            results=args.results,
            json_dir=args.json_dir,
            keep_temp=args.keep_temp,
        ),
        command=command,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    measure(_parse(argv), command="`" + " ".join(["python -m bench.ingest", *argv]) + "`")
    return 0


def measure(args: argparse.Namespace, *, command: str) -> None:
    """Upload, measure, compare with COPY; write the ``ingest`` section and the JSON copy."""
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    server = _libpq(normalise_database_url(args.postgres_url))
    admin = psycopg.connect(server, autocommit=True)
    name = f"arrs_bench_{os.getpid()}_{int(time.time())}_ingest"
    temp = Path(tempfile.mkdtemp(prefix="arrs-bench-ingest-"))
    processes = Processes(temp)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    uploads: list[dict[str, Any]] = []
    copies: list[dict[str, Any]] = []
    try:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        url = server.rsplit("/", 1)[0] + f"/{name}"
        evaluation_port, gateway_port = free_ports(2)
        closed = f"http://{HOST}:{free_ports(1)[0]}"
        env = {
            **os.environ,
            "ARRS_ENV": "development",
            "ARRS_ADMIN_API_KEY": DEV_ADMIN_API_KEY,
            "ARRS_GATEWAY_SECRET": DEV_GATEWAY_SECRET,
            "EVALUATION_DATABASE_URL": url,
            "EVALUATION_BUDGET_URL": closed,
            "EVALUATION_ROLES_URL": closed,
            "GATEWAY_DATABASE_URL": f"sqlite:///{temp / 'gateway.db'}",
            "GATEWAY_EVALUATION_URL": f"http://{HOST}:{evaluation_port}",
            "GATEWAY_ROLES_URL": closed,
            "GATEWAY_BUDGET_URL": closed,
            # A million keys take seconds to merge after the last byte: more than the 10 s default wait.
            "GATEWAY_UPSTREAM_TIMEOUT_S": "600",
        }
        for package in ("evaluation", "gateway"):
            subprocess.run([sys.executable, "-m", package, "migrate"], env=env, check=True, cwd=REPO)
        log(f"writing {args.rows:,} records as NDJSON and CSV under {temp}")
        bodies = write_bodies(args.rows, temp)
        data = list(rows(args.rows))
        processes.start("evaluation", uvicorn_command("evaluation.main:app", evaluation_port), env)
        processes.wait_healthy("evaluation", f"http://{HOST}:{evaluation_port}/readyz", HEALTH_TIMEOUT_S)
        processes.start("gateway", uvicorn_command("gateway.main:app", gateway_port), env)
        processes.wait_healthy("gateway", f"http://{HOST}:{gateway_port}/healthz", HEALTH_TIMEOUT_S)
        gateway = f"http://{HOST}:{gateway_port}"
        body = {"name": "bench GP system feed", "kind": "practice_system", "org_codes": practices(args.rows)}
        made = httpx.post(f"{gateway}/v1/clients", json=body, headers={"X-API-Key": DEV_ADMIN_API_KEY}, timeout=30)
        made.raise_for_status()
        key = made.json()["api_key"]
        pids = processes.pids()
        idle_rss = {n: peak_rss_mib(p) for n, p in pids.items()}
        plan = [
            ("ndjson", "application/x-ndjson", True),
            ("csv", "text/csv", True),
            ("ndjson", "application/x-ndjson", False),
        ]
        for round_ in range(1, args.rounds + 1):
            # COPY before and after each upload: an upload is compared with the two beside it, so load
            # from elsewhere on the machine weighs on both sides of the ratio alike.
            log(f"round {round_}: COPY of the same rows into a table like workload, same driver")
            copy_s = [raw_copy(url, data, anatomy=False)[0]]
            anatomy: dict[str, float] = {}
            for number, (fmt, media, empty_first) in enumerate(plan, start=1):
                with psycopg.connect(url, autocommit=True) as conn:
                    if empty_first:
                        conn.execute("TRUNCATE workload, workload_upload")
                    conn.execute("CHECKPOINT")
                what = f"{fmt}, {'new keys' if empty_first else 'every key replaced'}"
                log(f"round {round_}: uploading {what} ({bodies[fmt].stat().st_size / 1e6:,.0f} MB)")
                upload = _upload(gateway, key, bodies[fmt], media, pids, args.rows)
                log(f"{what}: {upload['seconds']:.1f} s, {upload['rows_per_s']:,.0f} rows/s; COPY again")
                seconds, anatomy = raw_copy(url, data, anatomy=number == len(plan))
                copy_s.append(seconds)
                beside = (copy_s[-2] + copy_s[-1]) / 2
                uploads.append(
                    upload
                    | {
                        "round": round_,
                        "upload": what,
                        "format": fmt,
                        "copy_beside_s": [copy_s[-2], copy_s[-1]],
                        "share_of_copy": upload["rows_per_s"] / (args.rows / beside),
                    }
                )
            copies.append({"round": round_, "copy_s": copy_s, **anatomy})
        for upload, split in zip(uploads, service_split(temp / "evaluation.log"), strict=False):
            upload["service_read_s"], upload["service_merge_s"] = split["read_s"], split["merge_s"]
            upload["merge_steps"] = split.get("merge_steps", [])
        log("NDJSON lines parsed by the standard library and by orjson")
        parsers = json_parsers(bodies["ndjson"])
    finally:
        processes.stop_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        if args.keep_temp:
            log(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)
    document = {
        "started": started.isoformat(timespec="seconds"),
        "rows": args.rows,
        "rounds": args.rounds,
        "copies": copies,
        "idle_rss_mib": idle_rss,
        "json_parsers_s": parsers,
        "uploads": uploads,
        "national_rows": NATIONAL_ROWS,
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load": os.getloadavg(),
        },
        "command": command,
    }
    markdown = report(document)
    print(markdown)
    write_section(args.results, "ingest", markdown)
    args.json_dir.mkdir(parents=True, exist_ok=True)
    (args.json_dir / "ingest-latest.json").write_text(json.dumps(document, indent=2) + "\n")


def _upload(gateway: str, key: str, path: Path, media: str, pids: dict[str, int], count: int) -> dict[str, Any]:
    """One timed upload through the gateway, with each process's CPU time and peak memory."""
    cpu = {n: cpu_seconds(p) for n, p in pids.items()}
    busy, clock = machine_busy_seconds(), time.perf_counter()
    answer = httpx.post(
        f"{gateway}/v1/workload",
        content=chunks(path),
        headers={"X-API-Key": key, "Content-Type": media},
        timeout=UPLOAD_TIMEOUT_S,
    )
    seconds = time.perf_counter() - clock
    machine = machine_busy_seconds() - busy
    if answer.status_code != 200:
        raise RuntimeError(f"the upload answered {answer.status_code}: {answer.text[:500]}")
    used = {n: cpu_seconds(p) - cpu[n] for n, p in pids.items()}
    return {
        "bytes": path.stat().st_size,
        "answer": answer.json(),
        "seconds": seconds,
        "rows_per_s": count / seconds,
        "cpu_s": used,
        "other_cpu_s": max(0.0, machine - sum(used.values())),
        "peak_rss_mib": {n: peak_rss_mib(p) for n, p in pids.items()},
    }


def _steps(upload: dict[str, Any]) -> str:
    steps = upload.get("merge_steps") or []
    return ", ".join(f"{step['step']} {step['s']:.1f}" for step in steps) or "–"


def _spread(values: list[float]) -> str:
    low, high = min(values), max(values)
    if round(low, 2) == round(high, 2):
        return f"{low:.0%}"
    return f"{low:.0%}–{high:.0%} (median {statistics.median(values):.0%})"


def _load_note(doc: dict[str, Any]) -> str:
    machine = doc["machine"]
    busiest = max(machine["load_before"][0], machine["load"][0])
    if busiest < machine["nproc"] / 2:
        return "The machine was otherwise quiet (load averages above)."
    return (
        f"The machine is shared and was not quiet: a one-minute load average of up to {busiest:.1f} on "
        f"{machine['nproc']} CPUs, other work (tests, servers) competing with every process of the run; its CPU "
        "time is in the last column's rest. Each upload is compared with the COPYs just before and after it, and "
        "the rounds' spread shows how much the load moved the figures."
    )


def report(doc: dict[str, Any]) -> str:
    machine = doc["machine"]
    lines = [
        "# Benchmark: bulk workload uploads (PostgreSQL)",
        "",
        f"Written by {doc['command']}; started {doc['started']}.",
        f"{doc['rows']:,} weekly records per upload ({KEYS_PER_WEEK} keys per practice-week), posted by a",
        "practice-system client through a real gateway to the evaluation service (uvicorn as `make run` serves",
        "them) on PostgreSQL; each body read from a file written first. "
        f"{doc['rounds']} round{'s' if doc['rounds'] > 1 else ''} of three uploads on the same servers, with a COPY "
        "of the same rows before and after each: an upload's share is its rate against the mean time of the two "
        "COPYs beside it. Machine: "
        f"{machine['nproc']} CPUs, Python {machine['python']}, load average before the run "
        + " ".join(f"{x:.2f}" for x in machine["load_before"])
        + ", after it "
        + " ".join(f"{x:.2f}" for x in machine["load"])
        + ".",
        "",
        "| round | upload | body | seconds | rows/s | COPY before / after (s) | share of COPY |"
        " service: body read, staged / merged (s) | merge statements (s) | peak RSS gateway / evaluation (MiB) |"
        " CPU s gateway / evaluation / rest (PostgreSQL, client, other load) |",
        "| --: | --- | --: | --: | --: | --: | --: | --: | --- | --: | --: |",
    ]
    for u in doc["uploads"]:
        split = f"{u.get('service_read_s', float('nan')):.1f} / {u.get('service_merge_s', float('nan')):.1f}"
        rss = f"{u['peak_rss_mib']['gateway']:.0f} / {u['peak_rss_mib']['evaluation']:.0f}"
        cpu = f"{u['cpu_s']['gateway']:.1f} / {u['cpu_s']['evaluation']:.1f} / {u['other_cpu_s']:.1f}"
        copies = " / ".join(f"{x:.1f}" for x in u["copy_beside_s"])
        lines.append(
            f"| {u['round']} | {u['upload']} | {u['bytes'] / 1e6:,.0f} MB | {u['seconds']:.1f} |"
            f" {u['rows_per_s']:,.0f} | {copies} | {u['share_of_copy']:.0%} | {split} | {_steps(u)} | {rss} | {cpu} |"
        )
    copy_s = [x for c in doc["copies"] for x in c["copy_s"]]
    shares = {
        what: [u["share_of_copy"] for u in doc["uploads"] if u["upload"] == what]
        for what in ("ndjson, new keys", "csv, new keys", "ndjson, every key replaced")
    }
    new_keys = shares["ndjson, new keys"] + shares["csv, new keys"]
    first = [u for u in doc["uploads"] if u["upload"] == "ndjson, new keys"]
    rate = min(u["rows_per_s"] for u in first)
    national_min = doc["national_rows"] / rate / 60
    week_s = doc["national_rows"] / 52 / rate
    last = doc["copies"][-1]
    lines += [
        "",
        f"COPY (psycopg `write_row`) of the same rows into a table like `workload`: {len(copy_s)} times, "
        f"{min(copy_s):.1f}–{max(copy_s):.1f} s (median {statistics.median(copy_s):.1f} s, "
        f"{doc['rows'] / statistics.median(copy_s):,.0f} rows/s).",
        "",
        f"Target: at least {TARGET_SHARE:.0%} of COPY's rate for first-time uploads (new keys). Over the rounds, "
        f"new keys as NDJSON reached {_spread(shares['ndjson, new keys'])} and as CSV "
        f"{_spread(shares['csv, new keys'])}; a resubmission of every key "
        f"{_spread(shares['ndjson, every key replaced'])}."
        + (" New keys fell below the target in some round." if min(new_keys) < TARGET_SHARE else ""),
        "",
        _load_note(doc),
        "",
        f"Memory: before any upload the gateway held {doc['idle_rss_mib']['gateway']:.0f} MiB and the evaluation "
        f"service {doc['idle_rss_mib']['evaluation']:.0f} MiB (numpy and scipy are loaded for the analyses); the "
        "peaks above are what each reached while a body several times their size streamed through.",
        "",
        f"A national year of weekly data, assumed {NATIONAL_PRACTICES:,} practices × 52 weeks × {KEYS_PER_WEEK} keys"
        f" = {doc['national_rows']:,} records, would take about {national_min:.0f} minutes of uploads at the slowest"
        f" NDJSON rate: {week_s:.0f} s for a week of the whole country.",
        "",
        "Where the time goes (the same rows, last round): the service reads, checks and stages the body while it "
        "streams, then merges, which may only start once the last byte has arrived and its signature held. The "
        "merge first checks whether any of the batch's practice-periods is stored (`check`: a hash of the staged "
        "periods, each looked up in the primary key); when none is, every key is new and the rows go in by a plain "
        "`INSERT … SELECT` (`insert`), otherwise by `INSERT … ON CONFLICT DO UPDATE` (`upsert`). From a staging "
        f"table into an empty table like `workload`, the plain insert takes {last['insert_select_s']:.1f} s, the "
        f"same in primary-key order {last['insert_select_ordered_s']:.1f} s (the sort costs more than a sequential "
        f"fill of the B-tree saves, the rows arriving practice by practice and week by week) and the upsert "
        f"{last['insert_on_conflict_s']:.1f} s, against {last['copy_s'][-1]:.1f} s for COPY: the upsert's speculative "
        "insertion probes the primary key before each row and writes a confirmation WAL record after it.",
        "",
        f"NDJSON is parsed with orjson: the body's {doc['rows']:,} lines take {doc['json_parsers_s']['orjson']:.2f} s"
        f" with `orjson.loads` and {doc['json_parsers_s']['json']:.2f} s with the standard library's `json.loads`"
        " (one line at a time, as the service reads them).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
