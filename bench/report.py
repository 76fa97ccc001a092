"""What the benchmark writes: the machine it ran on, the console table, ``RESULTS.md`` and the JSON copy."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import floors
from bench.wrk import WrkResult

PATH_LABELS = {
    "direct": "direct (roles service)",
    "gateway": "gateway → roles, admin key",
    "gateway_key": "gateway → roles, client API key",
    "gateway_token": "gateway → roles, bearer token",
    "nginx": "nginx → roles",
    **floors.LABELS,
}
PROXY_PROCESS = {"gateway": "gateway", "gateway_key": "gateway", "gateway_token": "gateway", "nginx": "nginx"}
# The authenticated gateway paths, compared with the gateway on the bootstrap admin key (the baseline).
AUTH_PATHS = {"gateway_key": "a client's API key", "gateway_token": "a bearer token"}
AUTH_BASELINE = "gateway"
# The process that answers each path (the Results table's service CPU/req): the roles service but for the floors.
SERVICE_PROCESS = dict.fromkeys(("direct", *PROXY_PROCESS), "roles") | floors.SERVICE_PROCESS

# The targets from the issue: what the gateway must keep of direct throughput, and may add to latency;
# what authenticating a client may cost against the unauthenticated gateway.
TARGET_THROUGHPUT_CONCURRENCY = 32
TARGET_RPS_RATIO_AT_32 = 0.35
TARGET_LATENCY_CONCURRENCY = 1
TARGET_ADDED_P50_MS_AT_1 = 2.0
TARGET_AUTH_RPS_RATIO = 0.90


@dataclass
class Measurement:
    """One path at one concurrency: the reported wrk run (the median of the rounds by requests/s), the CPU
    each server spent per request in it, and every round's requests/s."""

    wrk: WrkResult
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    rounds_rps: list[float] = field(default_factory=list)
    foreign_cpu_share: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.wrk.as_dict(),
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "rounds_rps": self.rounds_rps,
            "foreign_cpu_share": self.foreign_cpu_share,
        }


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    text = (completed.stdout or "") + (completed.stderr or "")
    return text.strip().splitlines()[0] if text.strip() else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(*, nginx: str, wrk: str) -> dict[str, str]:
    nginx_version = _first_line([nginx, "-v"])
    wrk_version = _first_line([wrk, "-v"])
    match = re.search(r"nginx/(\S+)", nginx_version)
    return {
        "nproc": _first_line(["nproc"]),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvicorn": _version("uvicorn"),
        "uvloop": _version("uvloop"),
        "httptools": _version("httptools"),
        "httpx": _version("httpx"),
        "httpcore": _version("httpcore"),
        "fastapi": _version("fastapi"),
        "starlette": _version("starlette"),
        "nginx": match.group(1) if match else nginx_version,
        "wrk": wrk_version.split(" [")[0].removeprefix("wrk ").strip(),
        "load_average_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _clean(results: dict[str, dict[int, Measurement]], concurrency: int, paths: tuple[str, ...]) -> bool:
    return all(results[path][concurrency].wrk.errors == 0 for path in paths)


def _auth_comparisons(
    results: dict[str, dict[int, Measurement]], concurrencies: list[int], out: dict[str, Any]
) -> None:
    """Each authenticated gateway path against the gateway on the admin key, and the issue's target."""
    for path, credential in AUTH_PATHS.items():
        for c in concurrencies:
            base_m = results.get(AUTH_BASELINE, {}).get(c)
            auth_m = results.get(path, {}).get(c)
            target = (
                f"at concurrency {c}, authenticating with {credential} costs at most "
                f"{1 - TARGET_AUTH_RPS_RATIO:.0%} of the unauthenticated gateway throughput "
                f"(≥ {TARGET_AUTH_RPS_RATIO:.0%} of the admin key's requests/s)"
            )
            if base_m is None or auth_m is None:
                if path in results:
                    out["targets"].append(
                        {"target": target, "value": "not measured", "met": False, "note": "not measured"}
                    )
                continue
            base, auth = base_m.wrk, auth_m.wrk
            ratio = auth.rps / base.rps if base.rps else None
            out["auth_rps_ratio"].setdefault(path, {})[c] = ratio
            out["auth_added_p50_ms"].setdefault(path, {})[c] = auth.p50_ms - base.p50_ms
            base_cpu = base_m.cpu_ms_per_request.get("gateway")
            auth_cpu = auth_m.cpu_ms_per_request.get("gateway")
            if base_cpu is not None and auth_cpu is not None:
                out["auth_added_cpu_ms"].setdefault(path, {})[c] = auth_cpu - base_cpu
            clean = _clean(results, c, (AUTH_BASELINE, path))
            out["targets"].append(
                {
                    "target": target,
                    "value": "n/a" if ratio is None else f"{ratio:.1%}",
                    "met": bool(ratio is not None and ratio >= TARGET_AUTH_RPS_RATIO and clean),
                    "note": "" if clean else "runs had errors",
                }
            )


def _revocation_target(revocation: dict[str, Any] | None, out: dict[str, Any]) -> None:
    target = (
        "revocation is still immediate: after DELETE /v1/clients/{id} the client's key and token, "
        "good (200) a moment before, are refused (401) on the very next request"
    )
    if revocation is None:
        return
    value = (
        f"key {revocation['key_status_before']} → {revocation['key_status']}, "
        f"token {revocation['token_status_before']} → {revocation['token_status']}"
    )
    out["targets"].append({"target": target, "value": value, "met": bool(revocation["immediate"]), "note": ""})


def comparisons(
    results: dict[str, dict[int, Measurement]],
    concurrencies: list[int],
    *,
    revocation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ratios and added latencies vs direct and vs the admin key, and whether the issue's targets are met."""
    out: dict[str, Any] = {
        "rps_ratio": {},
        "added_p50_ms": {},
        "auth_rps_ratio": {},
        "auth_added_p50_ms": {},
        "auth_added_cpu_ms": {},
        "targets": [],
    }
    for c in concurrencies:
        direct_m = results["direct"].get(c)
        for path in PROXY_PROCESS:
            other_m = results.get(path, {}).get(c)
            if direct_m is None or other_m is None:
                continue
            direct, other = direct_m.wrk, other_m.wrk
            out["rps_ratio"].setdefault(path, {})[c] = other.rps / direct.rps if direct.rps else None
            out["added_p50_ms"].setdefault(path, {})[c] = other.p50_ms - direct.p50_ms
            out.setdefault("added_p99_ms", {}).setdefault(path, {})[c] = other.p99_ms - direct.p99_ms
    ratio = out["rps_ratio"].get("gateway", {}).get(TARGET_THROUGHPUT_CONCURRENCY)
    target = (
        f"at concurrency {TARGET_THROUGHPUT_CONCURRENCY} the gateway keeps at least "
        f"{TARGET_RPS_RATIO_AT_32:.0%} of direct throughput"
    )
    if ratio is None:
        out["targets"].append({"target": target, "value": "not measured", "met": False, "note": "not measured"})
    else:
        clean = _clean(results, TARGET_THROUGHPUT_CONCURRENCY, ("direct", "gateway"))
        out["targets"].append(
            {
                "target": target,
                "value": f"{ratio:.1%}",
                "met": bool(ratio >= TARGET_RPS_RATIO_AT_32 and clean),
                "note": "" if clean else "runs had errors",
            }
        )
    added = out["added_p50_ms"].get("gateway", {}).get(TARGET_LATENCY_CONCURRENCY)
    target = (
        f"at concurrency {TARGET_LATENCY_CONCURRENCY} the gateway adds at most {TARGET_ADDED_P50_MS_AT_1:g} ms at p50"
    )
    if added is None:
        out["targets"].append({"target": target, "value": "not measured", "met": False, "note": "not measured"})
    else:
        clean = _clean(results, TARGET_LATENCY_CONCURRENCY, ("direct", "gateway"))
        out["targets"].append(
            {
                "target": target,
                "value": f"{added:+.2f} ms",
                "met": bool(added <= TARGET_ADDED_P50_MS_AT_1 and clean),
                "note": "" if clean else "runs had errors",
            }
        )
    _auth_comparisons(results, concurrencies, out)
    _revocation_target(revocation, out)
    floor = floors.comparisons(results, concurrencies)
    out["floors"] = floor["ratios"]
    out["targets"] += floor["targets"]
    return out


_TEXT_COLUMNS = {"path", "errors", "requests/s of each round"}


def table(results: dict[str, dict[int, Measurement]], concurrencies: list[int]) -> list[list[str]]:
    rounds = max((len(m.rounds_rps) for by_c in results.values() for m in by_c.values()), default=1)
    header = ["path", "concurrency", "requests/s", "p50 (ms)", "p99 (ms)", "requests", "errors"]
    header += ["service CPU/req (ms)", "proxy CPU/req (ms)", "other load"]
    if rounds > 1:
        header.append("requests/s of each round")
    rows = [header]
    for c in concurrencies:
        for path, by_c in results.items():
            m = by_c.get(c)
            if m is None:
                continue
            r = m.wrk
            errors = r.error_text() if not r.errors else f"**{r.error_text()}**"
            service_cpu = m.cpu_ms_per_request.get(SERVICE_PROCESS.get(path, "roles"))
            proxy_cpu = m.cpu_ms_per_request.get(PROXY_PROCESS[path]) if path in PROXY_PROCESS else None
            row = [PATH_LABELS.get(path, path), str(c), f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}",
                   f"{r.requests:,}", errors,
                   "n/a" if service_cpu is None else f"{service_cpu:.2f}",
                   "n/a" if path in PROXY_PROCESS and proxy_cpu is None else (
                       "–" if proxy_cpu is None else f"{proxy_cpu:.2f}"),
                   f"{m.foreign_cpu_share:.0%}"]  # fmt: skip
            if rounds > 1:
                row.append(", ".join(f"{x:,.0f}" for x in m.rounds_rps))
            rows.append(row)
    return rows


def console_table(rows: list[list[str]]) -> str:
    plain = [[cell.replace("**", "") for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in plain) for i in range(len(plain[0]))]
    text = [name in _TEXT_COLUMNS for name in plain[0]]
    lines = []
    for n, cells in enumerate(plain):
        lines.append(
            "  ".join(c.ljust(w) if t else c.rjust(w) for c, w, t in zip(cells, widths, text, strict=True)).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]], text_columns: frozenset[str] = frozenset()) -> str:
    align = ["---" if name in _TEXT_COLUMNS or name in text_columns else "--:" for name in rows[0]]
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def markdown(
    *,
    command: str,
    started: str,
    finished: str,
    machine: dict[str, str],
    settings: dict[str, Any],
    results: dict[str, dict[int, Measurement]],
    concurrencies: list[int],
    notes: list[str],
    revocation: dict[str, Any] | None = None,
    edge: dict[str, Any] | None = None,
) -> str:
    cmp = comparisons(results, concurrencies, revocation=revocation)
    gateway = settings.get("gateway") or {}
    low = min(concurrencies)
    out = [
        "# Benchmark: the gateway's cost on a real read",
        "",
        "Written by `make bench` (`python -m bench.run`); every run overwrites it. The figures are from one run",
        "on the machine below, so compare ratios rather than absolute numbers across machines.",
        "",
        f"- Command: {command}",
        f"- Source: {settings['revision']}",
        f"- Date: {started} → {finished} (UTC)",
        f"- Request: `GET {settings['request']}` (roles service, SQLite catalogue migrated and seeded afresh)",
        f"- Load: wrk `--latency`, {settings['duration_s']:g} s per run after a {settings['warmup_s']:g} s warm-up "
        f"run that is not reported, {settings['rounds']} round(s) (paths interleaved in each round, each round"
        " starting one path further along); "
        "loopback only (127.0.0.1); "
        + ", ".join(f"concurrency {c} = `-t{t} -c{c}`" for c, t in settings["threads"].items()),
        "- Servers: uvicorn, 1 worker each, `--loop uvloop --no-access-log`, the roles service with"
        f" `{settings.get('service_http', '--http httptools')}` and the gateway with"
        f" `{settings.get('gateway_http', '--http httptools')}` (as `make run`: `tools/run.py`);"
        " the apps' own JSON access log at INFO goes to a file, as in development",
        "- Paths: **direct** = wrk → roles service, every request with signed principal headers of its own (see"
        " below); **gateway** = wrk → gateway"
        " → roles, in three ways: (a) **admin key** = the bootstrap admin key `X-API-Key: dev-admin-key`, a"
        ' constant-time compare with no lookup: the baseline "unauthenticated" gateway; (b) **client API key** ='
        " `X-API-Key` of an API client (kind `dashboard`, no org codes, so it may read the catalogue) created"
        " through the running gateway (`POST /v1/clients`) before anything is measured; (c) **bearer token** ="
        " `Authorization: Bearer` with a token for that client from `POST /v1/oauth/token` (client credentials);"
        " **nginx** = wrk → nginx (1 worker, upstream keepalive, HTTP/1.1, access log off) → roles, forwarding"
        " the signed headers as direct: the reference for what any reverse proxy costs here. Every path but the"
        " gateway's /healthz is first checked to answer 200 with the same JSON.",
        *floors.description(settings.get("floors")),
        *_presigned_lines(settings.get("presigned")),
        "- Gateway: its own SQLite database, migrated afresh (`python -m gateway migrate`); "
        + "; ".join(f"`{k}={v}`" for k, v in gateway.items())
        + ". `GATEWAY_RATE_LIMITS={}` turns the per-kind rate limits off, so no bucket limits the load: the"
        " admin key is never limited, but a `dashboard` client is"
        + (
            " by default (to {:g} requests/s, bursts of {})".format(*settings["bench_client_default_rate_limit"])
            if settings.get("bench_client_default_rate_limit")
            else ""
        )
        + ", and with the default limits the key and token paths would measure the rate limiter's 429s, not"
        " authentication."
        + (
            f" {settings['tokens_issued']} token(s) were issued; one is fetched again only before a run it would"
            " not outlive."
            if settings.get("tokens_issued")
            else ""
        ),
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
    ]
    labels = {
        "nproc": "nproc",
        "cpu": "CPU",
        "memory": "memory",
        "kernel": "kernel",
        "python": "Python",
        "uvicorn": "uvicorn",
        "uvloop": "uvloop",
        "httptools": "httptools",
        "httpx": "httpx",
        "httpcore": "httpcore",
        "fastapi": "FastAPI",
        "starlette": "Starlette",
        "nginx": "nginx",
        "wrk": "wrk",
        "load_average_before": "load average before the run",
    }
    out += [f"| {labels[k]} | {machine[k]} |" for k in labels if k in machine]
    out += [
        "",
        "All processes (wrk, nginx, the gateway, the roles service, the floors) share these cores: with 2 cores the",
        "gateway and the roles service each want one while wrk wants its own, so the gateway path is CPU-starved by",
        "construction, as a single small host would be.",
        "",
        "## Results",
        "",
        markdown_table(table(results, concurrencies)),
        "",
        "Errors are non-2xx responses plus socket errors (connect, read, write, timeout) as wrk counts them;",
        "a run with errors is shown in bold and fails any target it feeds. CPU/req is the user + system CPU time",
        "the process (nginx: master and worker) used during the measured run, from /proc, divided by the requests",
        "wrk completed: what one request costs that server, whatever the scheduling. Service CPU/req is that of",
        "the process that answers (the roles service, a floor app on a floor row, the gateway itself on",
        "/healthz); proxy CPU/req that of the gateway or nginx in front of the roles service. Other load is the",
        "share of the machine's CPU (all cores, /proc/stat, hypervisor steal included) that something other than the",
        "benchmark used during the run: above a few percent, that run is disturbed. With several rounds, the",
        "row is the round with the median requests/s.",
        "",
        "## Compared with direct",
        "",
        "| | " + " | ".join(f"concurrency {c}" for c in concurrencies) + " |",
        "| --- | " + " | ".join("--:" for _ in concurrencies) + " |",
    ]
    for path in PROXY_PROCESS:
        if path not in cmp["rps_ratio"]:
            continue
        ratios = cmp["rps_ratio"].get(path, {})
        out.append(
            f"| {PATH_LABELS[path]} rps / direct rps | "
            + " | ".join(f"{ratios[c]:.1%}" if ratios.get(c) is not None else "n/a" for c in concurrencies)
            + " |"
        )
    for path in PROXY_PROCESS:
        if path not in cmp["added_p50_ms"]:
            continue
        added = cmp["added_p50_ms"].get(path, {})
        out.append(
            f"| {PATH_LABELS[path]} added p50 (ms) | "
            + " | ".join(f"{added[c]:+.2f}" if c in added else "n/a" for c in concurrencies)
            + " |"
        )
    out += [
        "",
        f"Added p50 latency at concurrency {low}: gateway "
        + (f"{cmp['added_p50_ms']['gateway'][low]:+.2f} ms" if low in cmp["added_p50_ms"].get("gateway", {}) else "n/a")
        + ", nginx "
        + (f"{cmp['added_p50_ms']['nginx'][low]:+.2f} ms" if low in cmp["added_p50_ms"].get("nginx", {}) else "n/a")
        + ".",
        "",
    ]
    out += _auth_section(cmp, concurrencies)
    out += floors.section(cmp, results, concurrencies)
    if edge is not None:
        out += edge_section(edge, results, concurrencies)
    out += [
        "## Targets (from the issue)",
        "",
        "| target | measured | met |",
        "| --- | --: | --- |",
    ]
    for t in cmp["targets"]:
        met = "yes" if t["met"] else ("not measured" if t["value"] == "not measured" else "**no**")
        note = f" ({t['note']})" if t["note"] and t["value"] != "not measured" else ""
        out.append(f"| {t['target']} | {t['value']} | {met}{note} |")
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    out.append("")
    return "\n".join(out)


def _auth_section(cmp: dict[str, Any], concurrencies: list[int]) -> list[str]:
    """Each authenticated path against the admin key, under the same load in the same run."""
    if not cmp["auth_rps_ratio"]:
        return []

    def cells(values: dict[int, float | None], fmt: str) -> str:
        return " | ".join(format(values[c], fmt) if values.get(c) is not None else "n/a" for c in concurrencies)

    out = [
        "## Authentication cost (against the admin key)",
        "",
        "| | " + " | ".join(f"concurrency {c}" for c in concurrencies) + " |",
        "| --- | " + " | ".join("--:" for _ in concurrencies) + " |",
    ]
    for path in AUTH_PATHS:
        if path in cmp["auth_rps_ratio"]:
            out.append(f"| {PATH_LABELS[path]} rps / admin key rps | {cells(cmp['auth_rps_ratio'][path], '.1%')} |")
    for path in AUTH_PATHS:
        if path in cmp["auth_added_cpu_ms"]:
            micros = {c: v * 1000 for c, v in cmp["auth_added_cpu_ms"][path].items()}
            out.append(f"| {PATH_LABELS[path]}: gateway CPU/req added (µs) | {cells(micros, '+.0f')} |")
    for path in AUTH_PATHS:
        if path in cmp["auth_added_p50_ms"]:
            out.append(f"| {PATH_LABELS[path]}: p50 added (ms) | {cells(cmp['auth_added_p50_ms'][path], '+.2f')} |")
    out += [
        "",
        f"The target is a ratio of at least {TARGET_AUTH_RPS_RATIO:.0%}: authentication costs at most"
        f" {1 - TARGET_AUTH_RPS_RATIO:.0%} of the unauthenticated gateway throughput. At concurrency 1 each"
        " request waits for the one before, so whatever checking the credential costs shows whole in the added"
        " gateway CPU and p50. At 32 the gateway's own CPU per request swings from run to run by more than any"
        " credential check costs (wrk, the gateway and the service share two cores, and how many requests the"
        " gateway handles per wake-up varies), so one round there says little about authentication:"
        " `--rounds 3` reports medians.",
        "",
    ]
    return out


def _presigned_lines(presigned: dict[str, Any] | None) -> list[str]:
    """How the direct and nginx runs sign their requests, and how many sets each reported run used."""
    if not presigned:
        return []
    runs = presigned.get("runs") or {}
    used = "; ".join(
        f"{PATH_LABELS.get(path, path)} c={c}: {run['used']:,} used of {run['sets']:,}"
        for path, by_c in runs.items()
        for c, run in sorted(by_c.items())
    )
    return [
        "- Signed headers (direct, nginx, the floors): a service accepts a signed principal once (its nonce is"
        " remembered for the signature's 60 s either side), so each request carries a set of its own. Just before"
        " each wrk run (warm-up included) `bench/presigned.py` signs more sets than the run can send and writes"
        " each wrk thread a disjoint slice; `bench/presigned.lua` (`wrk -s`) sends each set once and fails the"
        " run (exit 3) if a thread runs out: no set is reused and no run is cut short. Sized from an upper bound on the"
        f" rate: {presigned['ceiling_rps']:,.0f} requests/s for a warm-up, then {presigned['warmup_factor']:g}×"
        f" the warm-up's rate (at least {presigned['floor_rps']:,.0f}/s), times the run's duration plus 2 s,"
        " and every set is issued so that the whole run falls within its freshness window. Signing happens"
        " before the servers' CPU is read; wrk's own Lua work is wrk's. Reported runs: " + (used or "none") + ".",
    ]


def _edge_references(results: dict[str, dict[int, Measurement]], concurrencies: list[int]) -> dict[str, float]:
    """The measured per-request figures the edge microbenchmarks compare with (lowest concurrency)."""
    low = min(concurrencies)
    out: dict[str, float] = {}
    gateway = results.get("gateway", {}).get(low)
    direct = results.get("direct", {}).get(low)
    if gateway is not None and "gateway" in gateway.cpu_ms_per_request:
        out["gateway_cpu_ms"] = gateway.cpu_ms_per_request["gateway"]
        out["gateway_p50_ms"] = gateway.wrk.p50_ms
    if direct is not None and "roles" in direct.cpu_ms_per_request:
        out["roles_cpu_ms"] = direct.cpu_ms_per_request["roles"]
        out["direct_p50_ms"] = direct.wrk.p50_ms
    if gateway is not None and direct is not None:
        out["gateway_added_p50_ms"] = gateway.wrk.p50_ms - direct.wrk.p50_ms
    return out


_MICRO_LABELS = {
    "header_limits": "header limits (gateway)",
    "has_dot_segment": "dot segments (gateway)",
    "sign": "signing (gateway)",
    "verify": "verifying (service)",
}


def _micro_rows(edge: dict[str, Any], refs: dict[str, float], low: int) -> list[list[str]]:
    """Each check's µs per call beside the measured per-request CPU it is part of, and its share of it."""
    micro = {m["name"]: m for m in edge["micro"]}
    gateway_ref = (f"gateway CPU per request, admin key, c={low}", refs.get("gateway_cpu_ms"))
    roles_ref = (f"roles service CPU per request, direct, c={low}", refs.get("roles_cpu_ms"))
    rows = [["check", "what is timed", "µs per call", "median (µs)", "compared with", "measured (ms)", "share"]]

    def row(label: str, what: str, best: float, median: float, ref: tuple[str, float | None]) -> list[str]:
        name, value = ref
        share = "n/a" if not value else f"{best / (value * 1000):.2%}"
        return [label, what, f"{best:.2f}", f"{median:.2f}", name, "n/a" if value is None else f"{value:.2f}", share]

    for name in ("header_limits", "has_dot_segment", "sign"):
        if name in micro:
            m = micro[name]
            rows.append(row(_MICRO_LABELS[name], m["what"], m["best_us"], m["median_us"], gateway_ref))
    gateway_side = [micro[n] for n in ("header_limits", "has_dot_segment", "sign") if n in micro]
    if len(gateway_side) == 3:
        rows.append(
            row(
                "**all three, per gateway request**",
                "the sum of the three above",
                sum(m["best_us"] for m in gateway_side),
                sum(m["median_us"] for m in gateway_side),
                gateway_ref,
            )
        )
    if "verify" in micro:
        m = micro["verify"]
        rows.append(row(_MICRO_LABELS["verify"], m["what"], m["best_us"], m["median_us"], roles_ref))
    return rows


def _flood_rows(edge: dict[str, Any]) -> list[list[str]]:
    rows = [
        [
            "request",
            "header fields",
            "bytes",
            "answer",
            "answered after (ms)",
            "gateway CPU (ms)",
            "/healthz during: answers, p50, max (ms)",
            "/healthz before: answers, p50, max (ms)",
            "refused as it should be",
        ]
    ]
    for f in edge["floods"]:
        during, quiet = f["healthz_during"], f["healthz_quiet"]
        cpu = f["gateway_cpu_ms"]
        rows.append(
            [
                f["what"],
                f"{f['fields']:,}",
                f"{f['request_bytes']:,}",
                f"{f['status']} `{f['problem_type']}`",
                f"{f['answer_ms']:.1f}",
                "n/a" if cpu is None else f"{cpu:.1f}",
                f"{during['count']:,}, {during['p50_ms']:.2f}, {during['max_ms']:.2f}"
                + (f", **{during['errors']} not 200**" if during["errors"] else ""),
                f"{quiet['count']:,}, {quiet['p50_ms']:.2f}, {quiet['max_ms']:.2f}"
                + (f", **{quiet['errors']} not 200**" if quiet["errors"] else ""),
                "yes" if f["refused"] and not during["errors"] else "**no**",
            ]
        )
    return rows


def edge_section(
    edge: dict[str, Any], results: dict[str, dict[int, Measurement]], concurrencies: list[int]
) -> list[str]:
    """The edge part: the floods, and the checks' cost beside the per-request figures measured above."""
    low = min(concurrencies)
    refs = _edge_references(results, concurrencies)
    limits = edge["limits"]
    gateway_p50 = refs.get("gateway_p50_ms")
    return [
        "## Edge: header floods and what the checks cost",
        "",
        "Against the same gateway process, after the runs above (served as `make run` serves it, with"
        f" `GATEWAY_MAX_HEADER_COUNT={limits['GATEWAY_MAX_HEADER_COUNT']}` and"
        f" `GATEWAY_MAX_HEADER_BYTES={limits['GATEWAY_MAX_HEADER_BYTES']}`, the defaults): one raw connection"
        f" sends one `GET {edge['request']}` with the admin key and the header fields below, written in one go,"
        " while a second connection sends `GET /healthz` one after another (keep-alive), from"
        f" {edge['quiet_s']:g} s before it until its answer has arrived. *Answered after* is from the request's"
        " first byte to the whole answer; *gateway CPU* is the gateway process's CPU time over that interval"
        " (`/proc/<pid>/task/*/schedstat`); */healthz during* counts every `/healthz` request in flight at any"
        " time between the two (*before*: those answered before it)."
        + (
            f" For scale: the gateway's p50 on `GET /v1/rates` at concurrency {low} was {gateway_p50:.2f} ms."
            if gateway_p50
            else ""
        ),
        "",
        markdown_table(_flood_rows(edge), frozenset({"request", "answer", "refused as it should be"})),
        "",
        f"What each check costs per request, timed with `timeit` in the benchmark's process (best of {edge['repeat']}"
        " repeats, and their median) while the servers were idle, beside the per-request CPU measured above at"
        f" concurrency {low} that it is part of. Signing is the gateway's share of the signed principal (it"
        " hashes the body as it reads it); verifying is every service's, on every request.",
        "",
        markdown_table(_micro_rows(edge, refs, low), frozenset({"check", "what is timed", "compared with"})),
        "",
    ]


def edge_console(
    edge: dict[str, Any], results: dict[str, dict[int, Measurement]], concurrencies: list[int]
) -> list[str]:
    low = min(concurrencies)
    refs = _edge_references(results, concurrencies)
    lines = []
    for f in edge["floods"]:
        during = f["healthz_during"]
        lines.append(
            f"edge: {f['what']}: {f['status']} after {f['answer_ms']:.1f} ms; /healthz during it: {during['count']} "
            f"answered, p50 {during['p50_ms']:.2f} ms, max {during['max_ms']:.2f} ms"
            + ("" if f["refused"] and not during["errors"] else "  -> NOT as it should be")
        )
    for row in _micro_rows(edge, refs, low)[1:]:
        lines.append(f"edge: {row[0].replace('**', '')}: {row[2]} µs per call = {row[6]} of {row[4]} ({row[5]} ms)")
    return lines


def write_json(
    path: Path,
    *,
    command: str,
    started: str,
    finished: str,
    machine: dict[str, str],
    settings: dict[str, Any],
    results: dict[str, dict[int, Measurement]],
    concurrencies: list[int],
    rounds: dict[str, dict[int, list[dict[str, Any]]]],
    revocation: dict[str, Any] | None = None,
    edge: dict[str, Any] | None = None,
) -> None:
    cmp = comparisons(results, concurrencies, revocation=revocation)
    document = {
        "command": command.replace("`", ""),
        "started": started,
        "finished": finished,
        "machine": machine,
        "settings": settings,
        "results": {p: {str(c): r.as_dict() for c, r in by_c.items()} for p, by_c in results.items()},
        "rps_ratio_vs_direct": {p: {str(c): v for c, v in by_c.items()} for p, by_c in cmp["rps_ratio"].items()},
        "added_p50_ms_vs_direct": {p: {str(c): v for c, v in by_c.items()} for p, by_c in cmp["added_p50_ms"].items()},
        "rps_ratio_vs_admin_key": {
            p: {str(c): v for c, v in by_c.items()} for p, by_c in cmp["auth_rps_ratio"].items()
        },
        "added_gateway_cpu_ms_vs_admin_key": {
            p: {str(c): v for c, v in by_c.items()} for p, by_c in cmp["auth_added_cpu_ms"].items()
        },
        "added_p50_ms_vs_admin_key": {
            p: {str(c): v for c, v in by_c.items()} for p, by_c in cmp["auth_added_p50_ms"].items()
        },
        "floor_cpu_ratios": {k: {str(c): v for c, v in by_c.items()} for k, by_c in cmp["floors"].items()},
        "targets": cmp["targets"],
        "edge": None if edge is None else {**edge, "compared_with": _edge_references(results, concurrencies)},
        "rounds": {p: {str(c): runs for c, runs in by_c.items()} for p, by_c in rounds.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
