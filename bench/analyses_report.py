"""The analyses benchmark's Markdown section of ``bench/RESULTS.md`` (:mod:`bench.analyses` measures)."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from bench.analyses_sql import FOREIGN_LOAD_WARNING, TARGET_P95_MS, TARGET_RATIO, TITLES


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:,.1f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each analysis, cache state and concurrency against the two targets."""
    out = []
    for r in runs:
        clean = r["analysis"]["errors"] == 0 and r["analysis"]["incomplete"] == 0
        out.append(
            {
                "item": r["item"],
                "cache": r["cache"],
                "concurrency": r["concurrency"],
                "p95_ms": r["analysis"]["p95_ms"],
                "p95_met": clean and r["analysis"]["p95_ms"] < TARGET_P95_MS,
                "bare_p95_ms": r["bare"]["p95_ms"],
                "ratio": r["ratio"],
                "ratio_met": clean and r["ratio"] is not None and r["ratio"] >= TARGET_RATIO,
            }
        )
    return out


def report(doc: dict[str, Any]) -> str:
    machine, settings = doc["machine"], doc["settings"]
    lines = [
        "# Benchmark: the analyses on the national data set (PostgreSQL)",
        "",
        f"Written by {doc['command']}; started {doc['started']}, finished {doc['finished']}; source {doc['revision']}.",
        "",
        "Each analysis through a real gateway and real services (uvicorn as `make run` serves them: "
        f"`{settings['gateway_http']}` for the gateway, `{settings['service_http']}` for the services; 1 worker "
        "each) on the loaded databases "
        + ", ".join(f"`{d}`" for d in doc["databases"].values())
        + f", read only (GETs; as_of {settings['as_of']}, fy {settings['fy']}), as one national dashboard client "
        "created for the run with the admin key (`GATEWAY_RATE_LIMITS={}`), driven by wrk rotating over many "
        "subjects (`bench/rotate.lua`: every answer must be 200, and a scorecard's must have no part missing). "
        "Beside each, in the same run and at the same concurrency, its bare query: one SQL statement straight to "
        "the database with psycopg 3 (for the scorecard list, whose rows live in two databases, one statement in "
        "each, one after the other; one connection per client and database, every row fetched), rotating over "
        "the same "
        f"subjects. {settings['warmup_s']:g} s warm-up (not reported), then {settings['duration_s']:g} s measured, "
        "for each.",
        "",
        "## Data set",
        "",
        "| | |",
        "| --- | --: |",
        *[f"| {k} | {v:,} |" for k, v in doc["sizes"].items()],
        "",
        "Practices per ICB: "
        + f"{min(doc['icb_practices'].values())}–{max(doc['icb_practices'].values())} "
        + f"(median {statistics.median(doc['icb_practices'].values()):.0f}).",
        "",
        "## What each rotates over, and its bare query",
        "",
        "| analysis | subjects | bare query |",
        "| --- | --- | --- |",
    ]
    for item, described in doc["subjects"].items():
        lines.append(
            f"| {TITLES[item]} | {described} | {doc['bare'][item]['what']} (`{doc['bare'][item]['database']}`) |"
        )
    lines += [
        "",
        "Cache states: **off** = the evaluation service started with `EVALUATION_UPSTREAM_CACHE_TTL_S=0` and "
        "`EVALUATION_ANALYSIS_CACHE_ENTRIES=0`, so every post, PCN, post list and practice list is read from the "
        "budget service on every request and every analysis is computed afresh; **on** = the defaults (30 s, 512 "
        "kept answers), measured after every subject has been read once (primed, one after another, as a dashboard "
        "that has already shown each once) and a warm-up run over the same subjects: the ICB-wide reads the service "
        "makes as itself (a role's posts in the ICB, the ICB's practices) are then mostly hits, the caller's own "
        "(its post, its PCN) only when the rotation comes back to a subject within 30 s, and a PCN's summary and an "
        "ICB's list are answered as kept while nothing they were computed from has changed (nothing is written "
        "during the run; a kept answer is still checked against the change counters and the budget answers it was "
        "made from on every request). 'budget req/req' counts the "
        "budget service's requests (from its log) per analysis request: it says how warm the cache was. PostgreSQL's "
        "buffers were warm in both (the warm-up ran every statement).",
        *(
            [
                "",
                "Primed (each subject read once before the cached state, one at a time): "
                + "; ".join(
                    f"{TITLES.get(item, item)}: {p['subjects']} in {p['seconds']:g} s"
                    for item, p in settings["primed"].items()
                )
                + ".",
            ]
            if settings.get("primed")
            else []
        ),
        "",
        "## Results",
        "",
        "| analysis | cache | c | req/s | p50 | p95 | p99 (ms) | errors | bare q/s | bare p50 / p95 / p99 (ms) |"
        " analysis / bare | evaluation p50 (ms) | budget req/req | CPU ms/req: gateway / evaluation / budget /"
        " postgres | other load |",
        "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    ]
    for r in doc["runs"]:
        a, b, s, cpu = r["analysis"], r["bare"], r["service"], r["cpu_ms_per_request"]
        errors = a["errors"] + a["incomplete"]
        lines.append(
            f"| {TITLES[r['item']]} | {r['cache']} | {r['concurrency']} | {a['rps']:,.1f} | {_ms(a['p50_ms'])} |"
            f" {_ms(a['p95_ms'])} | {_ms(a['p99_ms'])} | {'**' + str(errors) + '**' if errors else 0} |"
            f" {b['rps']:,.1f} | {_ms(b['p50_ms'])} / {_ms(b['p95_ms'])} / {_ms(b['p99_ms'])} |"
            f" {r['ratio']:.1%} | {_ms(s['evaluation_p50_ms'])} | {s['budget_requests_per_request']:.1f} |"
            f" {cpu.get('gateway', 0):.1f} / {cpu.get('evaluation', 0):.1f} / {cpu.get('budget', 0):.1f} /"
            f" {cpu.get('postgres', 0):.1f} | {r['foreign_cpu_share']:.0%} |"
        )
    lines += [
        "",
        "p50/p95/p99 are wrk's latencies (closed loop: each connection sends its next request when the last is "
        "answered) and the bare query's own, per query (both statements for the list) with its rows fetched. "
        "Errors count non-200 answers, "
        "socket errors and scorecards with a part missing. 'evaluation p50' is the evaluation service's own time for "
        "the request it serves (for a scorecard, its summary; for the list, its PCN summaries), from its log. "
        "CPU ms/req is each process's user + system CPU over the run (/proc) per request; postgres is every backend "
        "of the four databases. Other load is the share of the machine's CPU used by anything else.",
        "",
        "## Targets",
        "",
        f"p95 under {TARGET_P95_MS:.0f} ms, and each analysis at least {TARGET_RATIO:.0%} of its bare query's "
        "throughput, at every concurrency. 'bare p95' is its bare statement's own: where it is over the target "
        "too, the database alone, running the statement, misses the latency target at that concurrency on this "
        "machine.",
        "",
        "| analysis | cache | c | p95 (ms) | bare p95 (ms) | p95 target | analysis / bare | throughput target |",
        "| --- | --- | --: | --: | --: | --- | --: | --- |",
    ]
    for t in targets(doc["runs"]):
        lines.append(
            f"| {TITLES[t['item']]} | {t['cache']} | {t['concurrency']} | {_ms(t['p95_ms'])} |"
            f" {_ms(t['bare_p95_ms'])} | {_met(t['p95_met'])} |"
            f" {t['ratio']:.1%} | {_met(t['ratio_met'])} |"
        )
    lines += [
        "",
        "## Answers checked before the runs",
        "",
        "Up to 12 subjects of each, read once through the gateway right after the services started (the first "
        f"cache state's TTL, {'0' if settings['cache'][0] == 'off' else '30 s'}; nothing of them cached before): "
        "each answered 200 and complete.",
        "",
    ]
    for item, seen in doc["checks"].items():
        ms = sorted(seen.get("ms", []))
        detail = {k: v for k, v in seen.items() if k not in ("ms", "checked")}
        lines.append(
            f"- {TITLES[item]}: {seen.get('checked', 0)} checked, first answer median "
            f"{_ms(statistics.median(ms) if ms else math.nan)} ms, slowest {_ms(ms[-1] if ms else math.nan)} ms; "
            + json.dumps(detail, default=str)
        )
    planner = doc.get("planner_statistics", {})
    done = {d: v for d, v in planner.get("databases", {}).items() if v.get("never_analysed")}
    lines += ["", "## Planner statistics", ""]
    if not done:
        lines.append(f"autovacuum is {planner.get('autovacuum')}; every table of the four databases had been analysed.")
    else:
        lines.append(
            f"autovacuum is {planner.get('autovacuum')} on this server, and tables had never been analysed: "
            + "; ".join(
                f"`{d}`: {', '.join(v['never_analysed'])}"
                + (f" (VACUUM (ANALYZE) took {v['vacuum_analyze_s']} s)" if "vacuum_analyze_s" in v else " (left so)")
                for d, v in done.items()
            )
            + ". Without statistics the planner guesses one row where there are a hundred thousand, and without a "
            "VACUUM index-only scans visit the heap for every row: the figures above are "
            + (
                "after the VACUUM (ANALYZE), as autovacuum would have left the databases."
                if all("vacuum_analyze_s" in v for v in done.values())
                else "WITHOUT statistics (--no-analyses-vacuum): not what a running platform would see."
            )
        )
    load_before = " ".join(f"{x:.2f}" for x in machine["load_before"])
    load_after = " ".join(f"{x:.2f}" for x in machine["load_after"])
    busiest = max((r["foreign_cpu_share"] for r in doc["runs"]), default=0.0)
    lines += [
        "",
        "## Machine",
        "",
        f"{machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB, Python {machine['python']}, "
        f"PostgreSQL {machine['postgres']}; load average before the run {load_before}, after it {load_after}. "
        "wrk, the four servers, PostgreSQL and the bare query's threads share these cores."
        + (
            f" Other work used up to {busiest:.0%} of the machine during a measured run ('other load'): those figures "
            "are disturbed."
            if busiest > FOREIGN_LOAD_WARNING
            else ""
        )
        + (
            " A `python -m tools.demo` load was running during the run: the data set was still being written."
            if machine["demo_loader_running"]["before"] or machine["demo_loader_running"]["after"]
            else ""
        ),
    ]
    return "\n".join(lines)
