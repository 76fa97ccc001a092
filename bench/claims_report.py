"""What the claims benchmark writes: the console table, its section of ``RESULTS.md`` and the JSON copy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.claims import RunResult

LABELS = {
    "pgbench": "raw DB (pgbench): lock + insert",
    "floor": "baseline via gateway: lock + insert",
    "submit": "submit via gateway",
    "submit_idem": "submit + Idempotency-Key via gateway",
}
SHORT = {"pgbench": "raw DB", "floor": "baseline", "submit": "submit", "submit_idem": "submit + key"}
CPU_COLUMNS = (
    ("gateway", "gateway CPU/req (ms)"),
    ("server", "service CPU/req (ms)"),
    ("postgres", "postgres CPU/req (ms)"),
    ("driver", "driver CPU/req (ms)"),
)
SERVER_PROCESS = {"floor": "floor", "submit": "budget", "submit_idem": "budget"}
GATEWAY_PROCESS = {"floor": "floor_gateway", "submit": "gateway", "submit_idem": "gateway"}
TARGET_SHARE = 0.5  # the target: submit ≥ 50% of the baseline's requests/s on the spread load
TARGET_TEXT = "submit through the gateway ≥ 50% of the baseline's requests/s on the spread load"
HOT_ROW_DROP = 0.9  # one pot below this share of many pots' throughput: the row lock shows
CPU_BOUND = 0.8  # a single-worker service busy this share of one core is CPU-bound


def _fmt(value: float | None, spec: str, missing: str = "n/a") -> str:
    return missing if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


@dataclass
class Report:
    command: str
    started: str
    finished: str
    machine: dict[str, str]
    settings: dict[str, Any]
    results: list[RunResult]
    notes: list[str]

    # lookups

    def _get(self, scenario: str, pots: int, concurrency: int) -> RunResult | None:
        for r in self.results:
            if (r.plan.scenario, r.plan.pots, r.plan.concurrency) == (scenario, pots, concurrency):
                return r
        return None

    def _configs(self) -> list[tuple[int, int]]:
        """(pots, concurrency) measured, in order: by concurrency, then one pot before many."""
        seen: list[tuple[int, int]] = []
        for r in self.results:
            key = (r.plan.pots, r.plan.concurrency)
            if key not in seen:
                seen.append(key)
        return sorted(seen, key=lambda k: (k[1], k[0]))

    def _server_cpu(self, r: RunResult) -> float | None:
        process = SERVER_PROCESS.get(r.plan.scenario)
        return r.cpu_ms_per_request.get(process) if process else None

    def _gateway_cpu(self, r: RunResult) -> float | None:
        process = GATEWAY_PROCESS.get(r.plan.scenario)
        return r.cpu_ms_per_request.get(process) if process else None

    def targets(self) -> list[dict[str, Any]]:
        """The issue's target at every concurrency: submit / baseline requests/s on the spread load."""
        many = self.settings["pots"]
        out: list[dict[str, Any]] = []
        for c in self.settings["concurrency"]:
            submit, base = self._get("submit", many, c), self._get("floor", many, c)
            ratio = submit.stats.rps / base.stats.rps if submit and base and base.stats.rps else None
            out.append({
                "target": TARGET_TEXT, "pots": many, "concurrency": c, "ratio": ratio,
                "submit_rps": submit.stats.rps if submit else None, "baseline_rps": base.stats.rps if base else None,
                "met": None if ratio is None else ratio >= TARGET_SHARE,
            })  # fmt: skip
        return out

    def _target_lines(self) -> list[str]:
        lines = []
        for t in self.targets():
            head = f"target ({t['pots']} pots, c={t['concurrency']}): {TARGET_TEXT}"
            if t["ratio"] is None:
                lines.append(f"{head}: not measured")
            else:
                verdict = "met" if t["met"] else "NOT met"
                lines.append(
                    f"{head}: {t['submit_rps']:,.0f} / {t['baseline_rps']:,.0f} requests/s"
                    f" = {t['ratio']:.1%} -> {verdict}"
                )
        return lines

    def _target_table(self) -> list[str]:
        lines = [
            f"| {self.settings['pots']} pots (spread) | submit via gateway (req/s) | baseline via gateway (req/s)"
            " | submit / baseline | target ≥ 50% |",
            "| --- | --: | --: | --: | --- |",
        ]
        for t in self.targets():
            if t["ratio"] is None:
                lines.append(f"| c={t['concurrency']} | – | – | not measured | – |")
                continue
            verdict = "**met**" if t["met"] else "**not met**"
            lines.append(
                f"| c={t['concurrency']} | {t['submit_rps']:,.0f} | {t['baseline_rps']:,.0f} | {t['ratio']:.1%}"
                f" | {verdict} |"
            )
        return lines

    def _ratio(self, a: str, b: str, pots: int, c: int) -> float | None:
        ra, rb = self._get(a, pots, c), self._get(b, pots, c)
        if ra is None or rb is None or not rb.stats.rps:
            return None
        return ra.stats.rps / rb.stats.rps

    def _added_p50(self, a: str, b: str, pots: int, c: int) -> float | None:
        ra, rb = self._get(a, pots, c), self._get(b, pots, c)
        return None if ra is None or rb is None else ra.stats.p50_ms - rb.stats.p50_ms

    def comparisons(self) -> dict[str, dict[str, float | None]]:
        """Ratios of requests/s and added p50 per configuration (``pots=P c=C``)."""
        out: dict[str, dict[str, float | None]] = {}
        for pots, c in self._configs():
            key = f"pots={pots} c={c}"
            out[key] = {
                "floor_rps_over_pgbench": self._ratio("floor", "pgbench", pots, c),
                "submit_rps_over_floor": self._ratio("submit", "floor", pots, c),
                "submit_rps_over_pgbench": self._ratio("submit", "pgbench", pots, c),
                "submit_idem_rps_over_submit": self._ratio("submit_idem", "submit", pots, c),
                "submit_idem_rps_over_floor": self._ratio("submit_idem", "floor", pots, c),
                "floor_added_p50_ms_over_pgbench": self._added_p50("floor", "pgbench", pots, c),
                "submit_added_p50_ms_over_floor": self._added_p50("submit", "floor", pots, c),
                "submit_idem_added_p50_ms_over_submit": self._added_p50("submit_idem", "submit", pots, c),
            }
        return out

    def hot_row(self) -> dict[str, dict[int, float | None]]:
        """Per scenario and concurrency: one pot's requests/s over many pots'."""
        many = self.settings["pots"]
        out: dict[str, dict[int, float | None]] = {}
        for scenario in LABELS:
            for c in self.settings["concurrency"]:
                hot, spread = self._get(scenario, 1, c), self._get(scenario, many, c)
                if hot is not None and spread is not None:
                    out.setdefault(scenario, {})[c] = hot.stats.rps / spread.stats.rps if spread.stats.rps else None
        return out

    # tables

    def rows(self) -> list[list[str]]:
        header = ["scenario", "pots", "concurrency", "requests", "requests/s", "p50 (ms)", "p90 (ms)", "p99 (ms)"]
        header += ["max (ms)", *(title for _key, title in CPU_COLUMNS), "other load"]
        rows = [header]
        for pots, c in self._configs():
            for scenario in LABELS:
                r = self._get(scenario, pots, c)
                if r is None:
                    continue
                s = r.stats
                cpu = {"server": self._server_cpu(r), **r.cpu_ms_per_request, "gateway": self._gateway_cpu(r)}
                rows.append(
                    [LABELS[scenario], str(pots), str(c), f"{s.requests:,}", f"{s.rps:,.0f}", f"{s.p50_ms:.2f}",
                     f"{s.p90_ms:.2f}", f"{s.p99_ms:.2f}", f"{s.max_ms:.2f}",
                     *(_fmt(cpu.get(key), ".2f", "–" if key != "driver" else "n/a") for key, _t in CPU_COLUMNS),
                     f"{r.foreign_cpu_share:.0%}"]
                )  # fmt: skip
        return rows

    def console(self) -> str:
        rows = self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = []
        for n, cells in enumerate(rows):
            lines.append(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
                ).rstrip()
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append("")
        lines += self._target_lines()
        for key, ratios in self.comparisons().items():
            shown = [f"{name} {value:.2f}" for name, value in ratios.items() if value is not None and "rps" in name]
            if shown:
                lines.append(f"{key}: " + ", ".join(shown))
        for scenario, by_c in self.hot_row().items():
            lines.append(
                f"{SHORT[scenario]}: one pot / {self.settings['pots']} pots requests/s: "
                + ", ".join(f"c={c}: {_fmt(v, '.0%')}" for c, v in by_c.items())
            )
        return "\n".join(lines)

    def _markdown_table(self) -> list[str]:
        rows = self.rows()
        align = ["---" if i == 0 else "--:" for i in range(len(rows[0]))]
        return [
            "| " + " | ".join(rows[0]) + " |",
            "| " + " | ".join(align) + " |",
            *("| " + " | ".join(row) + " |" for row in rows[1:]),
        ]

    def _comparison_table(self) -> list[str]:
        configs = self._configs()
        cmp = self.comparisons()
        lines = [
            "| | " + " | ".join(f"{'one pot' if p == 1 else f'{p} pots'}, c={c}" for p, c in configs) + " |",
            "| --- | " + " | ".join("--:" for _ in configs) + " |",
        ]
        wanted = (
            ("floor_rps_over_pgbench", "baseline / raw DB, requests/s", ".1%"),
            ("submit_rps_over_floor", "submit / baseline, requests/s", ".1%"),
            ("submit_rps_over_pgbench", "submit / raw DB, requests/s", ".1%"),
            ("submit_idem_rps_over_submit", "submit + key / submit, requests/s", ".1%"),
            ("submit_idem_rps_over_floor", "submit + key / baseline, requests/s", ".1%"),
            ("floor_added_p50_ms_over_pgbench", "baseline p50 − raw DB p50 (ms)", "+.2f"),
            ("submit_added_p50_ms_over_floor", "submit p50 − baseline p50 (ms)", "+.2f"),
            ("submit_idem_added_p50_ms_over_submit", "submit + key p50 − submit p50 (ms)", "+.2f"),
        )
        rows = []
        for key, title, spec in wanted:
            values = [cmp[f"pots={p} c={c}"].get(key) for p, c in configs]
            if any(v is not None for v in values):
                rows.append(f"| {title} | " + " | ".join(_fmt(v, spec) for v in values) + " |")
        if not rows:
            return ["Nothing to compare: this run measured one scenario only (`--claims-scenarios`)."]
        return lines + rows

    def _hot_row_table(self) -> list[str]:
        hot = self.hot_row()
        if not hot:
            return []
        cs = self.settings["concurrency"]
        lines = [
            f"| one pot / {self.settings['pots']} pots, requests/s | " + " | ".join(f"c={c}" for c in cs) + " |",
            "| --- | " + " | ".join("--:" for _ in cs) + " |",
        ]
        for scenario, by_c in hot.items():
            lines.append(f"| {LABELS[scenario]} | " + " | ".join(_fmt(by_c.get(c), ".1%") for c in cs) + " |")
        return lines

    # what the figures say

    def findings(self) -> list[str]:
        """Statements computed from this run's figures (nothing is said about what was not measured)."""
        out: list[str] = []
        cs = self.settings["concurrency"]
        low, high, many = min(cs), max(cs), self.settings["pots"]
        submit, floor, raw = self._get("submit", 1, low), self._get("floor", 1, low), self._get("pgbench", 1, low)
        if submit and floor:
            s_cpu, f_cpu = self._server_cpu(submit), self._server_cpu(floor)
            if s_cpu is not None and f_cpu is not None and f_cpu > 0:
                text = (
                    f"At concurrency {low}, one submission costs the budget service {s_cpu:.2f} ms of CPU against "
                    f"{f_cpu:.2f} ms for the baseline: the stack both share (uvicorn, the ASGI middleware and its"
                    " access log, the principal check, the session and its two statements) is about the baseline's"
                    f" figure, and the claim's own work in Python (loading the claim, its post and PCN through the"
                    " ORM, the checks again, the posting, the event, the claim and the balance written back, and the"
                    f" answer with its history) is the other {s_cpu - f_cpu:.2f} ms, {s_cpu / f_cpu:.1f}× the baseline."
                )
                pg_s, pg_f = submit.cpu_ms_per_request.get("postgres"), floor.cpu_ms_per_request.get("postgres")
                if pg_s is not None and pg_f is not None:
                    text += (
                        f" PostgreSQL's backend spends {pg_s:.2f} ms per submission against {pg_f:.2f} ms for the"
                        " baseline's transaction."
                    )
                g_s, g_f = self._gateway_cpu(submit), self._gateway_cpu(floor)
                if g_s is not None and g_f is not None:
                    text += (
                        f" Each gateway spends {g_s:.2f} ms (submit) and {g_f:.2f} ms (baseline) of CPU per request"
                        " in front of it."
                    )
                out.append(text)
            out.append(
                f"Latency at concurrency {low} (p50): "
                + (f"raw DB {raw.stats.p50_ms:.2f} ms → " if raw else "")
                + f"baseline via gateway {floor.stats.p50_ms:.2f} ms → submit via gateway {submit.stats.p50_ms:.2f} ms"
                + (
                    f" → submit with a key {k.stats.p50_ms:.2f} ms"
                    if (k := self._get("submit_idem", 1, low)) is not None
                    else ""
                )
                + ". Each ends in a commit that waits for its WAL to be flushed"
                f" (`{self.machine.get('postgres_settings', '').split(',')[0]}`): the raw DB figure is what the two"
                " statements and that flush take together, without HTTP or Python."
            )
        for scenario in ("submit", "submit_idem", "floor"):
            hot, spread = self._get(scenario, 1, high), self._get(scenario, many, high)
            if hot is None or spread is None or high == 1 or not spread.stats.rps:
                continue
            ratio = hot.stats.rps / spread.stats.rps
            server = self._server_cpu(spread)
            busy = server * spread.stats.rps / 1000 if server is not None else None
            if ratio < HOT_ROW_DROP:
                out.append(
                    f"{LABELS[scenario]} at concurrency {high}: one pot sustains {hot.stats.rps:,.0f} requests/s,"
                    f" {ratio:.0%} of {many} pots' {spread.stats.rps:,.0f}. The pot's row lock serialises them:"
                    " one transaction at a time holds it, from its `SELECT … FOR UPDATE` to its commit, so one pot"
                    f" cannot pass 1 / (time the lock is held): here each holds it about"
                    f" {1000 / hot.stats.rps:.2f} ms or less."
                )
            else:
                why = (
                    f" The service's single worker is CPU-bound instead: {busy:.0%} of one core at {many} pots."
                    if busy is not None and busy >= CPU_BOUND
                    else ""
                )
                out.append(
                    f"{LABELS[scenario]} at concurrency {high}: one pot sustains {ratio:.0%} of {many} pots'"
                    f" throughput ({hot.stats.rps:,.0f} against {spread.stats.rps:,.0f} requests/s): the row lock"
                    f" is not what limits it on this machine.{why}"
                )
        idem, plain = self._get("submit_idem", many, high), self._get("submit", many, high)
        if idem and plain and plain.stats.rps:
            b_idem, b_plain = self._server_cpu(idem), self._server_cpu(plain)
            cpu = (
                f"; the budget service spends {b_idem - b_plain:+.2f} ms of CPU per request on it"
                if b_idem is not None and b_plain is not None
                else ""
            )
            out.append(
                f"The Idempotency-Key (at {many} pots, concurrency {high}) keeps {idem.stats.rps / plain.stats.rps:.0%}"
                f" of the plain submission's throughput and adds {idem.stats.p50_ms - plain.stats.p50_ms:+.2f} ms at"
                f" p50{cpu}: the key is taken in the work's own transaction (a transaction-scoped advisory lock"
                " and a read of its row) and its row, with the response, written at the work's commit."
            )
        return out

    def markdown(self) -> str:
        s, m = self.settings, self.machine
        budget = s.get("budget") or {}
        out = [
            "# Benchmark: claim submission on PostgreSQL",
            "",
            "Written by `make bench` (`python -m bench.run`; `--only claims` runs this part alone and keeps the",
            "gateway's section above). Figures are from one run on the machine below: compare the ratios, which",
            "were all measured in the same run, rather than absolute numbers across machines.",
            "",
            f"- Command: {self.command}",
            f"- Source: {s['revision']}",
            f"- Date: {self.started} → {self.finished} (UTC)",
            "- What (the issue's benchmark): on PostgreSQL, through the gateway, over loopback, bounded: claim"
            " submissions per second against one hot pot and spread over many PCNs, with p50/p99 latency, beside a"
            " baseline measured in the same run through the same stack, and the raw database rate of the"
            " baseline's transaction without HTTP. **raw DB** = pgbench (C, `-M prepared`, no HTTP) running the"
            " baseline's transaction: `SELECT … FOR UPDATE` of the pot's row, `INSERT` of one row referencing it,"
            " commit. **baseline** = the same two statements in one transaction behind `POST /v1/claims/{id}/submit`"
            " of `bench/baseline_app.py` (the very path of a submission, the pot and amount taken from the id), a"
            " service built like the others (`create_service_app`, the kit's engine and pool settings, middleware"
            " and access log, the signed principal checked, a sync endpoint with the write session) under uvicorn,"
            " reached through a gateway process of its own whose `GATEWAY_BUDGET_URL` points at it: same server,"
            " gateway, driver and pool; the floor a submission through this stack cannot beat. **submit** = `POST"
            " /v1/claims/{id}/submit` through the gateway to the budget service, each of many distinct drafts"
            f" ({s['role']}, {s['fy']}, one per post and month, made beforehand straight to the service as the"
            " admin, each set-up request signed as it is sent: its own nonce, its body's digest) submitted once."
            " **submit + key** = the same with a fresh `Idempotency-Key` on every request.",
            f"- Target: {TARGET_TEXT}, at every concurrency, and no check failing under any load (below).",
            f"- Pots: each configuration runs against one pot (the hot row: every transaction queues for the same"
            f" lock) and spread over {s['pots']} pots (PCNs), requests dealt round-robin over them (pgbench: client i"
            f" on pot i mod {s['pots']}); every run has drafts, PCNs or pots of its own.",
            "- Load: a closed loop of N clients (`bench/load.py`: a minimal HTTP/1.1 client on uvloop, a keep-alive"
            " connection per client; why not wrk or httpx is in its docstring), concurrency "
            + ", ".join(str(c) for c in s["concurrency"])
            + f"; {s['count']:,} measured submissions per submit run, {s['baseline_count']:,} transactions per raw"
            " DB and baseline run; before each HTTP run an unreported warm-up at the same concurrency ("
            + ", ".join(f"c={c}: {w} submissions" for c, w in s["warmup"].items())
            + "; baseline: "
            + ", ".join(f"c={c}: {w}" for c, w in s["baseline_warmup"].items())
            + "). Every measured request goes to a gateway with the bootstrap admin key (`X-API-Key`); latency is"
            " per request, requests/s is answers over the wall time of the measured requests (raw DB: pgbench's tps"
            " without its connection time).",
            "- Servers: uvicorn, 1 worker each, `--loop uvloop --no-access-log`, the services with `--http httptools`"
            " and the gateways with `--http gateway.server:ProblemHttpToolsProtocol --no-proxy-headers` (as"
            " `make run`: `tools/run.py`): two gateways (`python -m gateway migrate`, then `gateway.main:app`, each"
            " with a fresh SQLite database: "
            + "; ".join(f"`{k}={v}`" for k, v in (s.get("gateway") or {}).items())
            + "), the budget service, the baseline and a roles service (SQLite catalogue, seeded) the budget"
            " service reads through its cached client: "
            + "; ".join(f"`{k}={v}`" for k, v in budget.items())
            + ". PostgreSQL: fresh databases, migrated, then `VACUUM (ANALYZE)` after the drafts are made.",
            "- Checked after every run, before any figure is kept (a failure stops the benchmark): every answer 200"
            " (submit: the claim `submitted` at its draft's amount; baseline: `submitted` with its id, pot and amount"
            " echoed), no transport error; submit: each pot's `held` equals the sum of the amounts submitted to it"
            " and there is one hold posting (row) per submission, with keys every key recorded `done`, and"
            " `budget.repository.ledger.verify_ledger` finds nothing; baseline: on each pot exactly the rows and the"
            " sum of amounts sent to it, one row per claim id; raw DB: pgbench processed every transaction, none"
            " failed, one row per transaction.",
            "",
            "## Machine",
            "",
            "| | |",
            "| --- | --- |",
        ]
        labels = {
            "nproc": "nproc", "cpu": "CPU", "memory": "memory", "kernel": "kernel", "python": "Python",
            "uvicorn": "uvicorn", "uvloop": "uvloop", "fastapi": "FastAPI", "sqlalchemy": "SQLAlchemy",
            "psycopg": "psycopg", "httpx": "httpx", "postgres": "PostgreSQL",
            "postgres_settings": "PostgreSQL settings",
            "pgbench": "pgbench", "load_average_before": "load average before the run",
        }  # fmt: skip
        out += [f"| {label} | {m[key]} |" for key, label in labels.items() if key in m]
        out += [
            "",
            "PostgreSQL, the servers and the load driver share these cores.",
            "",
            "## Results",
            "",
            *self._markdown_table(),
            "",
            "Every run passed its checks. Gateway and service CPU/req are the user + system CPU the gateway and the"
            " serving process (baseline or budget) used during the measured requests, from /proc, divided by the"
            " requests; postgres CPU/req is"
            " the same for the PostgreSQL backends serving the benchmark's databases (raw DB: not measured, its"
            " backends end with pgbench); driver CPU/req is the load driver's (raw DB: pgbench's). Other load is"
            " the share of the machine's CPU nobody here used (PostgreSQL's own background processes included):"
            " above a few percent the run is disturbed.",
            "",
            "## Target: submit through the gateway against the baseline, spread load",
            "",
            *self._target_table(),
            "",
            "## Raw DB → baseline → submit",
            "",
            *self._comparison_table(),
            "",
            "## The hot row: one pot against many",
            "",
            *self._hot_row_table(),
            "",
        ]
        findings = self.findings()
        if findings:
            out += ["## What dominates", "", *(f"- {f}" for f in findings), ""]
        if self.notes:
            out += ["## Notes", "", *(f"- {n}" for n in self.notes), ""]
        return "\n".join(out)

    def document(self) -> dict[str, Any]:
        return {
            "command": self.command.replace("`", ""),
            "started": self.started,
            "finished": self.finished,
            "machine": self.machine,
            "settings": self.settings,
            "results": [r.as_dict() for r in self.results],
            "targets": self.targets(),
            "comparisons": self.comparisons(),
            "hot_row": self.hot_row(),
            "findings": self.findings(),
            "notes": self.notes,
        }
