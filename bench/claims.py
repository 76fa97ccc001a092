"""``make bench`` (``--only claims``): what submitting a claim costs on PostgreSQL, through the gateway.

As the issue asks: on PostgreSQL, through the gateway, over loopback, bounded: claim submissions per
second against ONE hot pot (every transaction queues for the same ``FOR UPDATE`` lock: the worst case)
and spread over ``--claims-pots`` pots (PCNs, default 100), with p50/p99 latency, beside a baseline
measured in the same run through the same stack, and the raw database rate of the baseline's
transaction without HTTP. Each at every ``--claims-concurrency``:

``pgbench``
    The raw database rate: the baseline's transaction (lock the pot's row ``FOR UPDATE``, insert one
    row referencing it; :mod:`bench.baseline_app`) from pgbench (:mod:`bench.pgbench`): no HTTP, no Python.
``floor``
    The baseline: ``POST /v1/claims/{id}/submit`` through a gateway process of its own whose
    ``GATEWAY_BUDGET_URL`` is :mod:`bench.baseline_app` (uvicorn, built and configured as a service is),
    so the same server, gateway, driver and pool; its transaction only locks one row and inserts one.
    The floor a submission served by this stack cannot beat.
``submit``
    ``POST /v1/claims/{id}/submit`` through the gateway to the budget service: the real thing (locks the
    claim and the pot, re-runs every check with the role's terms from the roles service through the
    cached typed client, posts the hold, records the claim event, updates claim and balance, answers the
    claim with its history), each of many distinct drafts submitted once.
``submit_idem``
    The same with an ``Idempotency-Key`` on every request: on PostgreSQL the key is taken in the work's
    own transaction (a transaction-scoped advisory lock, a read of the key's row) and its row written
    with the work's commit, so the key's statements are part of the price.

Both gateways are real ones (``python -m gateway migrate``, then uvicorn ``gateway.main:app``, as the
gateway benchmark starts it), each with its own fresh SQLite database, ``GATEWAY_RATE_LIMITS={}`` so no
bucket limits the load, and every measured request carries the bootstrap admin key (``X-API-Key``).
Target: the submission's requests/s at least 50% of the baseline's on the spread load, at every
concurrency, with no check failing under any load.

The drafts are made beforehand straight to the budget service as the admin, signed with the gateway's
principal headers (an ICB; PCNs with a large ``arrs`` allocation for 2024-25 by
``POST /v1/pcns/{pcn}/budgets/{fy}/allocations``; clinical pharmacist posts, a role without a cap; one
draft per post and month of 2024-25, amounts below the monthly maximum so the claim is the amount paid),
then both databases are vacuumed and analysed. Every run uses drafts, PCNs or pots of its own, first
submits ``warm-up`` of them (unreported: the connection pools, the roles cache), then the measured ones
(:mod:`bench.load` says why this driver and not wrk).

After every run, before anything is reported, the run is checked: every answer 200 with the claim
``submitted`` at its draft's amount (baseline: the id, pot and amount echoed), no transport errors; each
pot's ``held`` equals the sum of the amounts submitted to it and there is one hold posting (one row) per
submission (baseline: each pot's rows and their sum of amounts are exactly those sent, one row per
claim id); with keys, every key recorded ``done``; and the whole ledger verifies
(:func:`budget.repository.ledger.verify_ledger`). Any failure stops the benchmark with the reason: no figure
is ever reported for a run that did not do what it claims.

PostgreSQL is the server at ``--claims-postgres-url`` (default ``$ARRS_TEST_POSTGRES_URL`` or
``postgresql://postgres@127.0.0.1:5432/postgres``); the benchmark creates ``arrs_bench_<pid>_<time>_budget``
and ``..._floor`` and drops them on the way out. The roles service keeps its seeded catalogue in SQLite
(the budget service reads a role once per ``BUDGET_ROLES_CACHE_TTL_S``). Every process it starts is
stopped on the way out, also on Ctrl-C; every wait is bounded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from arrs_kit.principal import Principal, principal_headers
from arrs_kit.settings import DEV_ADMIN_API_KEY, DEV_GATEWAY_SECRET, normalise_database_url
from bench import baseline_app, claims_report, load, pgbench, results
from bench.report import _cpu_model, _first_line, _memory, _version
from bench.servers import (
    HOST,
    Processes,
    cpu_seconds,
    ensure_tool,
    free_ports,
    log,
    machine_busy_seconds,
    uvicorn_command,
)
from budget.config import BudgetSettings
from budget.repository import ledger as ledger_repo
from gateway.config import GatewaySettings

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("pgbench", "floor", "submit", "submit_idem")
SUBMIT_SCENARIOS = ("submit", "submit_idem")
GATEWAY_OF = {"floor": "floor_gateway", "submit": "gateway", "submit_idem": "gateway"}
INVOLVED = {
    "pgbench": [],
    "floor": ["floor_gateway", "floor", "postgres"],
    "submit": ["gateway", "budget", "roles", "postgres"],
    "submit_idem": ["gateway", "budget", "roles", "postgres"],
}
GATEWAY_RATE_LIMITS = "{}"  # no bucket may limit the load (as the gateway benchmark)
MAX_POTS = 100  # the PCN codes of a plan number its pots with two digits
BENCH_PRINCIPAL = Principal(kind="admin", client_id="bench")
FY = "2024-25"
MONTHS = tuple(f"2024-{m:02d}" for m in range(4, 13)) + tuple(f"2025-{m:02d}" for m in range(1, 4))
ICB_CODE = "QBN"
ROLE = "clinical_pharmacist"  # no cap in the catalogue, so many posts of one PCN may all claim a month
SALARY_PENCE, NI_PENCE, PENSION_PENCE = 300_000, 40_000, 50_000  # below the monthly maximum at 1 WTE
ALLOCATION_PER_CLAIM_PENCE = 400_000  # above any claim's amount
POST_TEMPLATE: dict[str, Any] = {
    "role_code": ROLE,
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
}
BASELINE_FACTOR = 4  # pgbench and the baseline run this many times the requests of a submit run: quicker
SETUP_CONCURRENCY = 4
HEALTH_TIMEOUT_S = 60.0
SUBPROCESS_TIMEOUT_S = 300.0
FOREIGN_LOAD_WARNING = 0.05
CONNECT_TIMEOUT_S = 10
ADMIN_OPTIONS = "-c statement_timeout=300000"  # the benchmark's own statements (DDL, VACUUM, checks): 5 min

ERROR_LINE = re.compile(r'"level":\s*"error"')
"""A JSON log line at level error, however the JSON is spaced."""


def default_postgres_url() -> str:
    return os.environ.get("ARRS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("claims benchmark (PostgreSQL)")
    group.add_argument(
        "--claims-count", type=int, default=500, help="measured submissions per submit run (default 500)"
    )
    group.add_argument(
        "--claims-concurrency", type=int, nargs="+", default=[1, 16], help="concurrent clients (default 1 16)"
    )
    group.add_argument(
        "--claims-pots",
        type=int,
        default=MAX_POTS,
        help=f"pots (PCNs) of the spread runs (default {MAX_POTS}; the hot runs: 1)",
    )
    group.add_argument(
        "--claims-scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), help="what to measure"
    )
    group.add_argument(
        "--claims-postgres-url",
        default=default_postgres_url(),
        help="a PostgreSQL server to create the benchmark's databases on (trust or .pgpass: no password is sent"
        " to pgbench)",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not 10 <= args.claims_count <= 100_000:
        parser.error("--claims-count must be between 10 and 100000")
    if any(c < 1 or c > 64 for c in args.claims_concurrency):
        parser.error("--claims-concurrency values must be between 1 and 64 (the services' pools hold 30)")
    if not 2 <= args.claims_pots <= MAX_POTS:
        parser.error(f"--claims-pots must be between 2 and {MAX_POTS}")
    args.claims_concurrency = sorted(set(args.claims_concurrency))
    args.claims_scenarios = [s for s in SCENARIOS if s in args.claims_scenarios]


# The plan: every measured run, and what it works on


@dataclass(frozen=True)
class Draft:
    id: int
    pcn_code: str
    amount_pence: int


@dataclass
class Plan:
    """One measured configuration. ``pots`` is 1 (the hot row) or ``--claims-pots``."""

    index: int
    scenario: str
    pots: int
    concurrency: int
    count: int
    warmup: int
    pcn_codes: list[str] = field(default_factory=list)  # submit runs: the PCNs whose pots it holds from
    pot_ids: list[int] = field(default_factory=list)  # pgbench and baseline runs: the bench_pot ids
    drafts: list[Draft] = field(default_factory=list)  # submit runs: warm-up first, in submission order
    keys: dict[int, str] = field(default_factory=dict)  # submit_idem: the Idempotency-Key of each claim

    @property
    def label(self) -> str:
        return f"{self.scenario} pots={self.pots} c={self.concurrency}"

    @property
    def total(self) -> int:
        return self.warmup + self.count


def warmup_for(count: int, concurrency: int) -> int:
    return max(2 * concurrency, min(50, count // 10))


def make_plans(args: argparse.Namespace) -> list[Plan]:
    plans: list[Plan] = []
    for c in args.claims_concurrency:
        for scenario in args.claims_scenarios:
            for pots in (1, args.claims_pots):
                index = len(plans)
                count = args.claims_count * (1 if scenario in SUBMIT_SCENARIOS else BASELINE_FACTOR)
                warmup = 0 if scenario == "pgbench" else warmup_for(count, c)
                plan = Plan(index=index, scenario=scenario, pots=pots, concurrency=c, count=count, warmup=warmup)
                if scenario in SUBMIT_SCENARIOS:
                    plan.pcn_codes = [f"U9{index:02d}{k:02d}" for k in range(pots)]
                else:
                    plan.pot_ids = [index * 100 + k + 1 for k in range(pots)]
                plans.append(plan)
    if len(plans) > 99:
        raise ValueError("too many runs for the PCN codes of the plan (at most 99)")
    return plans


# Signed requests


def through_gateway(method: str, path: str, extra: dict[str, str] | None = None) -> load.Call:
    """A measured request: to a gateway, with the bootstrap admin key, as a client sends it."""
    return load.Call(method, path, {"X-API-Key": DEV_ADMIN_API_KEY, **(extra or {})})


def signed(call: load.Call) -> load.Call:
    """``call`` with the gateway's signed principal headers for exactly this request, as a service checks
    them: method, decoded path, raw query, the SHA-256 of the very body bytes sent, a new nonce (a service
    accepts each once), the time now (good for ``MAX_SKEW_S``) and no request id. Made as the call is sent."""
    target, _, query = call.path.partition("?")
    headers = principal_headers(
        BENCH_PRINCIPAL,
        DEV_GATEWAY_SECRET,
        method=call.method,
        path=unquote(target),
        query=query,
        body_digest=hashlib.sha256(call.body()).digest(),
    )
    return load.Call(call.method, call.path, {**call.headers, **headers}, call.json)


def to_service(method: str, path: str, body: Any = None) -> load.Call:
    """A set-up request straight to a service as the admin; :func:`_batch` signs it as it is sent."""
    return load.Call(method, path, {}, body)


def _json(answer: load.Answer[Any]) -> Any:
    try:
        return json.loads(answer.body)
    except ValueError:
        return None


async def _batch(
    connections: list[load.Connection], calls: Sequence[load.Call], *, expect: int, what: str
) -> list[dict[str, Any]]:
    """Set-up requests, a few at a time; every one must answer ``expect``. Bodies in the order of ``calls``."""
    indexed = list(enumerate(calls))
    # Signed as each is sent: a long set-up outlasts a signature's 60 s of validity, and a set is good once.
    outcome = await load.drive(connections, indexed, lambda pair: signed(pair[1]), deadline_s=120 + 0.5 * len(calls))
    if outcome.failures:
        raise RuntimeError(f"{what}: {sum(outcome.failures.values())} request(s) failed: {outcome.failure_samples}")
    bodies: dict[int, dict[str, Any]] = {}
    for answer in outcome.answers:
        body = _json(answer)
        if answer.status != expect or not isinstance(body, dict):
            raise RuntimeError(f"{what}: {answer.item[1].path} answered {answer.status}: {answer.body[:500]!r}")
        bodies[answer.item[0]] = body
    return [bodies[i] for i in range(len(calls))]


async def _register(base_url: str, plans: list[Plan]) -> None:
    """The ICB, the PCNs with their funding, the posts and the drafts of every submit run, through the API."""
    submit_plans = [p for p in plans if p.scenario in SUBMIT_SCENARIOS]
    if not submit_plans:
        return
    async with load.Connections(base_url, SETUP_CONCURRENCY) as http:
        await _batch(
            http, [to_service("POST", "/v1/icbs", {"code": ICB_CODE, "name": "Benchmark ICB"})], expect=201, what="ICB"
        )
        pcn_calls, funding, post_calls = [], [], []
        post_owner: list[str] = []
        for plan in submit_plans:
            per_pcn = [len(range(k, plan.total, plan.pots)) for k in range(plan.pots)]
            for pcn, claims in zip(plan.pcn_codes, per_pcn, strict=True):
                practice = "B" + pcn[1:]
                pcn_body = {"code": pcn, "name": f"Benchmark PCN {pcn}", "icb_code": ICB_CODE,
                            "practice_codes": [practice], "list_size": 50_000,
                            "effective_date": "2024-04-01"}  # fmt: skip
                pcn_calls.append(to_service("POST", "/v1/pcns", pcn_body))
                # a PCN with no draft (fewer submissions than pots) is funded all the same
                top_up = {
                    "pot": "arrs",
                    "amount_pence": max(1, claims) * ALLOCATION_PER_CLAIM_PENCE,
                    "reason": "benchmark",
                }
                funding.append(to_service("POST", f"/v1/pcns/{pcn}/budgets/{FY}/allocations", top_up))
                for n in range(math.ceil(claims / len(MONTHS))):
                    post = {**POST_TEMPLATE, "pcn_code": pcn, "employer_code": practice,
                            "practice_codes": [practice], "display_name": f"Benchmark pharmacist {n + 1}"}  # fmt: skip
                    post_calls.append(to_service("POST", "/v1/posts", post))
                    post_owner.append(pcn)
        await _batch(http, pcn_calls, expect=201, what="PCNs")
        await _batch(http, funding, expect=201, what="allocations")
        log(f"registered {len(pcn_calls)} PCNs with their funding; creating {len(post_calls)} posts")
        posts = await _batch(http, post_calls, expect=201, what="posts")
        by_pcn: dict[str, list[int]] = {}
        for pcn, body in zip(post_owner, posts, strict=True):
            by_pcn.setdefault(pcn, []).append(int(body["id"]))
        draft_calls: list[load.Call] = []
        slots: list[tuple[Plan, int, str]] = []  # (plan, position in its queue, pcn)
        n = 0
        for plan in submit_plans:
            for position in range(plan.total):
                pcn = plan.pcn_codes[position % plan.pots]
                nth = position // plan.pots  # the PCN's nth claim: post nth // 12, month nth % 12
                draft = {"post_id": by_pcn[pcn][nth // len(MONTHS)], "month": MONTHS[nth % len(MONTHS)],
                         "salary_pence": SALARY_PENCE + n % 997, "employer_ni_pence": NI_PENCE,
                         "employer_pension_pence": PENSION_PENCE}  # fmt: skip
                draft_calls.append(to_service("POST", "/v1/claims", draft))
                slots.append((plan, position, pcn))
                n += 1
        log(f"creating {len(draft_calls)} draft claims")
        started = time.monotonic()
        drafts = await _batch(http, draft_calls, expect=201, what="drafts")
        log(f"created {len(drafts)} drafts in {time.monotonic() - started:.0f} s")
        for (plan, _position, pcn), body in zip(slots, drafts, strict=True):
            if body.get("status") != "draft" or body.get("amount_pence") != body.get("reimbursable_pence"):
                raise RuntimeError(f"an unexpected draft: {body}")
            plan.drafts.append(Draft(id=int(body["id"]), pcn_code=pcn, amount_pence=int(body["amount_pence"])))
        for plan in submit_plans:
            if plan.scenario == "submit_idem":
                plan.keys = {d.id: f"bench-{uuid.uuid4()}" for d in plan.drafts}


# Measuring: the CPU of every process involved, and of everything else

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one process (no children: a PostgreSQL backend has none), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class Meter:
    """CPU time of the servers, of PostgreSQL's backends serving the benchmark's databases, of this
    process and its children, and of the whole machine, between two snapshots."""

    def __init__(self, processes: Processes, admin: psycopg.Connection[Any], databases: list[str]) -> None:
        self.processes = processes
        self.admin = admin
        self.databases = databases
        self.postgres_visible = True

    def _backends(self) -> dict[int, float]:
        rows = self.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", [self.databases]
        ).fetchall()
        cpu: dict[int, float] = {}
        for (pid,) in rows:
            seconds = _own_cpu_seconds(int(pid))
            if seconds is None:
                self.postgres_visible = False  # the server runs elsewhere (another host or namespace)
            else:
                cpu[int(pid)] = seconds
        return cpu

    @staticmethod
    def _clocks() -> dict[str, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "driver": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            "busy": machine_busy_seconds(),
            "wall": time.monotonic(),
        }

    def snapshot(self) -> dict[str, Any]:
        """The clocks are read just before (``start``) and just after (``end``) the processes', so the
        time taken to read them is left out of the interval between two snapshots."""
        start = self._clocks()
        servers = {name: cpu_seconds(pid) for name, pid in self.processes.pids().items()}
        postgres = self._backends()
        return {"start": start, "servers": servers, "postgres": postgres, "end": self._clocks()}

    def spent(self, before: dict[str, Any], after: dict[str, Any], requests: int) -> tuple[dict[str, float], float]:
        """CPU ms per request of each party, and the share of the machine's CPU nobody here used."""
        servers = {n: after["servers"][n] - before["servers"].get(n, 0.0) for n in after["servers"]}
        # A backend that started during the run counts from 0; one that ended during it is lost (rare:
        # the pools keep their connections).
        postgres = sum(cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items())
        driver = after["start"]["driver"] - before["end"]["driver"]
        per = max(1, requests)
        cpu = {**{n: s * 1000 / per for n, s in servers.items()}, "postgres": postgres * 1000 / per}
        cpu["driver"] = driver * 1000 / per
        wall = after["start"]["wall"] - before["end"]["wall"]
        busy = after["start"]["busy"] - before["end"]["busy"]
        accounted = sum(servers.values()) + postgres + driver
        foreign = max(0.0, busy - accounted) / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0
        return cpu, foreign


@dataclass
class RunResult:
    plan: Plan
    stats: load.Stats
    cpu_ms_per_request: dict[str, float]
    foreign_cpu_share: float
    checks: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.plan.scenario,
            "pots": self.plan.pots,
            "concurrency": self.plan.concurrency,
            "warmup": self.plan.warmup,
            **self.stats.as_dict(),
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "foreign_cpu_share": self.foreign_cpu_share,
            "checks": self.checks,
        }


class VerificationError(RuntimeError):
    """A run did not do what it was meant to: its figures must not be reported."""


# The runs


def _baseline_items(plan: Plan) -> list[int]:
    """The claim ids of every submission of a baseline run, round-robin over its pots."""
    return [baseline_app.claim_id(plan.pot_ids[i % plan.pots], i) for i in range(plan.total)]


def _call_for(plan: Plan) -> Any:
    if plan.scenario == "floor":

        def baseline(claim: int) -> load.Call:
            return through_gateway("POST", f"/v1/claims/{claim}/submit")

        return baseline

    def submit(draft: Draft) -> load.Call:
        key = plan.keys.get(draft.id)
        return through_gateway("POST", f"/v1/claims/{draft.id}/submit", {"Idempotency-Key": key} if key else None)

    return submit


def _measure_http(plan: Plan, base_url: str, meter: Meter) -> tuple[load.Outcome[Any], dict[str, Any], dict[str, Any]]:
    items: list[Any] = _baseline_items(plan) if plan.scenario == "floor" else list(plan.drafts)
    warm, measured = items[: plan.warmup], items[plan.warmup :]
    make = _call_for(plan)
    deadline = 120 + 0.25 * len(items)

    async def go() -> tuple[load.Outcome[Any], load.Outcome[Any], dict[str, Any], dict[str, Any]]:
        async with load.Connections(base_url, plan.concurrency) as connections:
            warmed = await load.drive(connections, warm, make, deadline_s=deadline)
            before = meter.snapshot()
            outcome = await load.drive(connections, measured, make, deadline_s=deadline)
            after = meter.snapshot()
        return warmed, outcome, before, after

    warmed, outcome, before, after = load.run(go())
    _check_answers(plan, warmed, "warm-up")
    _check_answers(plan, outcome, "measured run")
    return outcome, before, after


def _check_answers(plan: Plan, outcome: load.Outcome[Any], what: str) -> None:
    if outcome.failures:
        raise VerificationError(
            f"{plan.label}, {what}: {sum(outcome.failures.values())} request(s) failed "
            f"({dict(outcome.failures)}): {outcome.failure_samples}"
        )
    if len(outcome.answers) != outcome.planned:
        raise VerificationError(f"{plan.label}, {what}: {len(outcome.answers)} answers for {outcome.planned} requests")
    wrong = []
    for answer in outcome.answers:
        body = _json(answer)
        if plan.scenario == "floor":
            claim: int = answer.item
            good = isinstance(body, dict) and body.get("id") == claim and body.get("status") == "submitted"
            good = good and body.get("pot") == baseline_app.pot_of(claim)
            good = good and body.get("amount_pence") == baseline_app.amount_of(claim)
        else:
            draft: Draft = answer.item
            good = (
                isinstance(body, dict)
                and body.get("id") == draft.id
                and body.get("status") == "submitted"
                and body.get("amount_pence") == draft.amount_pence
            )
        if answer.status != 200 or not good:
            wrong.append(answer)
    if wrong:
        statuses: dict[int, int] = {}
        for answer in wrong:
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        raise VerificationError(
            f"{plan.label}, {what}: {len(wrong)} of {len(outcome.answers)} answers were not a good 200 "
            f"(statuses {statuses}); first: {wrong[0].status} {wrong[0].body[:500]!r}"
        )


def _verify_submit(plan: Plan, budget_url: str) -> list[str]:
    expected = dict.fromkeys(plan.pcn_codes, 0)
    for draft in plan.drafts:
        expected[draft.pcn_code] = expected.get(draft.pcn_code, 0) + draft.amount_pence
    engine = create_engine(budget_url)
    try:
        with Session(engine) as session:
            balances = session.execute(
                text(
                    "SELECT pcn_code, held_pence FROM budget_balance"
                    " WHERE pcn_code = ANY(:pcns) AND fy = :fy AND pot = 'arrs'"
                ),
                {"pcns": plan.pcn_codes, "fy": FY},
            ).all()
            held = {**dict.fromkeys(plan.pcn_codes, 0), **{str(pcn): int(amount) for pcn, amount in balances}}
            if held != expected:
                raise VerificationError(f"{plan.label}: held_pence per PCN {held}, submitted amounts {expected}")
            holds = session.execute(
                text("SELECT count(*) FROM posting WHERE kind = 'claim_hold' AND pcn_code = ANY(:pcns)"),
                {"pcns": plan.pcn_codes},
            ).scalar_one()
            submitted = session.execute(
                text("SELECT count(*) FROM claim WHERE status = 'submitted' AND pcn_code = ANY(:pcns)"),
                {"pcns": plan.pcn_codes},
            ).scalar_one()
            if holds != plan.total or submitted != plan.total:
                raise VerificationError(
                    f"{plan.label}: {holds} hold postings and {submitted} submitted claims for {plan.total} submissions"
                )
            checks = [
                f"{plan.total} answers 200 `submitted` at the draft's amount",
                f"held = Σ amounts on {plan.pots} pot(s)",
                f"{plan.total} hold postings",
            ]
            if plan.keys:
                done = session.execute(
                    text("SELECT count(*) FROM idempotency_key WHERE key = ANY(:keys) AND state = 'done'"),
                    {"keys": list(plan.keys.values())},
                ).scalar_one()
                if done != plan.total:
                    raise VerificationError(f"{plan.label}: {done} keys recorded done for {plan.total} submissions")
                checks.append(f"{plan.total} keys `done`")
            problems = ledger_repo.verify_ledger(session)
            if problems:
                raise VerificationError(f"{plan.label}: the ledger does not verify: {problems[:5]}")
            checks.append("ledger verifies")
            return checks
    finally:
        engine.dispose()


def _verify_holds(plan: Plan, conn: psycopg.Connection[Any], *, count: int, sent_by_us: bool) -> list[str]:
    """There are ``count`` rows on the run's pots (``sent_by_us``: on each pot exactly the rows, claim ids and
    sum of amounts this benchmark sent to it, one row per claim id)."""
    sums = conn.execute(
        "SELECT pot_id, count(*), count(DISTINCT claim_id), sum(amount_pence) FROM bench_hold"
        " WHERE pot_id = ANY(%s) GROUP BY pot_id",
        [plan.pot_ids],
    ).fetchall()
    conn.rollback()
    found = {int(pot): (int(n), int(total)) for pot, n, _claims, total in sums}
    rows = sum(n for n, _total in found.values())
    if rows != count:
        raise VerificationError(f"{plan.label}: {rows} rows for {count} transactions")
    if not sent_by_us:
        return [f"{count} rows on {plan.pots} pot(s)"]
    distinct = sum(int(claims) for _pot, _n, claims, _total in sums)
    if distinct != count:
        raise VerificationError(f"{plan.label}: {distinct} distinct claim ids in {count} rows")
    sent: dict[int, tuple[int, int]] = {}
    for claim in _baseline_items(plan):
        n, total = sent.get(baseline_app.pot_of(claim), (0, 0))
        sent[baseline_app.pot_of(claim)] = (n + 1, total + baseline_app.amount_of(claim))
    if sent != found:
        raise VerificationError(f"{plan.label}: (rows, Σ amounts) per pot {found}, sent {sent}")
    return [
        f"{count} answers 200 `submitted`, id, pot and amount echoed",
        f"rows and Σ amounts = those sent on each of {plan.pots} pot(s)",
        f"{count} rows, one per claim id",
    ]


def _measure_pgbench(
    plan: Plan, pgbench_bin: str, floor_url: str, meter: Meter, work_dir: Path
) -> tuple[pgbench.PgbenchRun, dict[str, Any], dict[str, Any]]:
    per_client = math.ceil(plan.count / plan.concurrency)
    pot = ":base" if plan.pots == 1 else f":base + :client_id % {plan.pots}"
    before = meter.snapshot()
    result = pgbench.run(
        pgbench_bin,
        floor_url,
        script=baseline_app.pgbench_script(pot=pot),
        clients=plan.concurrency,
        transactions_per_client=per_client,
        defines={"base": plan.pot_ids[0]},
        work_dir=work_dir / f"pgbench-{plan.index}",
        timeout_s=120 + 0.25 * plan.concurrency * per_client,
    )
    after = meter.snapshot()
    if result.returncode != 0 or result.failed or result.processed != result.planned:
        raise VerificationError(
            f"{plan.label}: pgbench exited {result.returncode}, {result.processed}/{result.planned} processed, "
            f"{result.failed} failed:\n{result.output[-2000:]}"
        )
    if len(result.latencies_ms) != result.processed:
        raise VerificationError(f"{plan.label}: {len(result.latencies_ms)} logged of {result.processed} transactions")
    return result, before, after


@dataclass(frozen=True)
class Targets:
    """Where the runs go: the servers' base URLs, the databases, pgbench, a directory for its files."""

    base: dict[str, str]
    budget_url: str
    floor_url: str
    floor_conn: psycopg.Connection[Any]
    pgbench: str | None
    work_dir: Path


def _measure(plan: Plan, targets: Targets, meter: Meter) -> RunResult:
    """One run, measured and then checked (:class:`VerificationError` when it did not do what it should)."""
    if plan.scenario == "pgbench":
        assert targets.pgbench is not None
        bench_run, before, after = _measure_pgbench(plan, targets.pgbench, targets.floor_url, meter, targets.work_dir)
        stats = load.stats(
            latencies_ms=bench_run.latencies_ms,
            requests=bench_run.processed,
            errors=0,
            wall_s=bench_run.processed / bench_run.tps,
            rps=bench_run.tps,  # pgbench's own, without its connection time
        )
        checks = ["pgbench: all processed, 0 failed"]
        checks += _verify_holds(plan, targets.floor_conn, count=bench_run.processed, sent_by_us=False)
    else:
        outcome, before, after = _measure_http(plan, targets.base[GATEWAY_OF[plan.scenario]], meter)
        stats = load.stats(
            latencies_ms=outcome.latencies_ms, requests=len(outcome.answers), errors=0, wall_s=outcome.wall_s
        )
        if plan.scenario == "floor":
            checks = _verify_holds(plan, targets.floor_conn, count=plan.total, sent_by_us=True)
        else:
            checks = _verify_submit(plan, targets.budget_url)
    cpu, foreign = meter.spent(before, after, stats.requests)
    # pgbench's backends come and go within its run: their CPU cannot be read afterwards.
    involved = INVOLVED[plan.scenario]
    if not meter.postgres_visible:
        involved = [k for k in involved if k != "postgres"]
    cpu = {k: cpu[k] for k in [*involved, "driver"] if k in cpu}
    return RunResult(plan, stats, cpu, foreign, checks)


# Reporting helpers


def _postgres_info(conn: psycopg.Connection[Any]) -> dict[str, str]:
    settings = ("synchronous_commit", "fsync", "wal_sync_method", "shared_buffers", "max_connections")
    info = {"postgres": str(conn.execute("SHOW server_version").fetchone()[0])}  # type: ignore[index]
    info["postgres_settings"] = ", ".join(
        f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
        for name in settings
    )
    return info


def _machine(conn: psycopg.Connection[Any], pgbench_bin: str | None) -> dict[str, str]:
    info = {
        "nproc": _first_line(["nproc"]),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        **{name: _version(name) for name in ("uvicorn", "uvloop", "fastapi", "sqlalchemy", "psycopg", "httpx")},
        **_postgres_info(conn),
        "pgbench": _first_line([pgbench_bin, "--version"]) if pgbench_bin else "not used",
        "load_average_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    return info


def _budget_settings(env: dict[str, str]) -> dict[str, str]:
    fields = BudgetSettings.model_fields
    out = {}
    for var, name in (
        ("BUDGET_ROLES_CACHE_TTL_S", "roles_cache_ttl_s"),
        ("BUDGET_DATABASE_POOL_SIZE", "database_pool_size"),
        ("BUDGET_DATABASE_MAX_OVERFLOW", "database_max_overflow"),
    ):
        out[var] = env.get(var, f"{fields[name].default:g} (default)")
    return out


def _gateway_settings(env: dict[str, str]) -> dict[str, str]:
    fields = GatewaySettings.model_fields
    out = {"GATEWAY_RATE_LIMITS": env.get("GATEWAY_RATE_LIMITS", "defaults")}
    for var, name in (
        ("GATEWAY_UPSTREAM_MAX_CONNECTIONS", "upstream_max_connections"),
        ("GATEWAY_CREDENTIAL_CACHE_S", "credential_cache_s"),
    ):
        out[var] = env.get(var, f"{fields[name].default:g} (default)")
    return out


def _server_log_notes(temp: Path) -> list[str]:
    notes = []
    for name in ("roles", "budget", "floor", "gateway", "floor_gateway"):
        path = temp / f"{name}.log"
        if path.exists():
            lines = path.read_text(errors="replace").splitlines()
            problems = [line for line in lines if ERROR_LINE.search(line) or "Traceback" in line]
            if problems:
                notes.append(f"{name} logged {len(problems)} error line(s); first: `{problems[0][:200]}`")
    return notes


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg (libpq) takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _subprocess(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(
        command, env=env, cwd=REPO, check=True, timeout=SUBPROCESS_TIMEOUT_S, stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def run(args: argparse.Namespace, *, command: str, revision: str) -> None:
    """Prepare, measure and check every run, then write the claims section of the results and a JSON copy."""
    server_url = normalise_database_url(args.claims_postgres_url)
    scenarios: list[str] = args.claims_scenarios
    pgbench_bin = ensure_tool("pgbench", "postgresql-client") if "pgbench" in scenarios else None
    started = _now()
    plans = make_plans(args)
    try:
        admin = psycopg.connect(
            _libpq(server_url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, options=ADMIN_OPTIONS
        )
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL at {make_url(server_url).render_as_string(hide_password=True)} cannot be reached ({exc});"
            " set --claims-postgres-url, or run --only gateway"
        ) from exc
    temp = Path(tempfile.mkdtemp(prefix="arrs-bench-claims-"))
    processes = Processes(temp)
    stamp = f"{os.getpid()}_{int(time.time())}"
    names = {"budget": f"arrs_bench_{stamp}_budget", "floor": f"arrs_bench_{stamp}_floor"}
    created: list[str] = []
    outcomes: list[RunResult] = []
    notes: list[str] = []
    env: dict[str, str] = {}
    try:
        machine = _machine(admin, pgbench_bin)
        for name in names.values():
            # template0 takes no connections, so no other session can make the copy fail
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            created.append(name)
        budget_url = normalise_database_url(_database_url(server_url, names["budget"]))
        floor_url = normalise_database_url(_database_url(server_url, names["floor"]))
        roles_port, budget_port, floor_port, gateway_port, floor_gateway_port = free_ports(5)
        env = {
            **os.environ,
            "ARRS_ENV": "development",
            "ARRS_ADMIN_API_KEY": DEV_ADMIN_API_KEY,
            "ARRS_GATEWAY_SECRET": DEV_GATEWAY_SECRET,
            "ROLES_DATABASE_URL": f"sqlite:///{temp / 'roles.db'}",
            "BUDGET_DATABASE_URL": budget_url,
            "BUDGET_ROLES_URL": f"http://{HOST}:{roles_port}",
            "BENCH_FLOOR_DATABASE_URL": floor_url,
            "GATEWAY_RATE_LIMITS": GATEWAY_RATE_LIMITS,
            "PYTHONUNBUFFERED": "1",
        }
        # Two gateways, each with a database of its own: one in front of the budget service, one in front
        # of the baseline (which answers the same path, so it is routed as a submission is).
        gateway_env = {
            "gateway": {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{temp / 'gateway.db'}",
                        "GATEWAY_ROLES_URL": f"http://{HOST}:{roles_port}",
                        "GATEWAY_BUDGET_URL": f"http://{HOST}:{budget_port}"},
            "floor_gateway": {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{temp / 'floor_gateway.db'}",
                              "GATEWAY_BUDGET_URL": f"http://{HOST}:{floor_port}"},
        }  # fmt: skip
        log(f"PostgreSQL databases {names['budget']} and {names['floor']}; migrating, seeding the catalogue")
        _subprocess([sys.executable, "-m", "budget", "migrate"], env)
        _subprocess([sys.executable, "-m", "roles", "seed"], env)
        floor_conn = psycopg.connect(_libpq(floor_url), connect_timeout=CONNECT_TIMEOUT_S, options=ADMIN_OPTIONS)
        try:
            baseline_app.prepare(floor_conn, [pot for p in plans for pot in p.pot_ids])
            floor_conn.commit()

            base = {name: f"http://{HOST}:{port}" for name, port in
                    (("roles", roles_port), ("budget", budget_port), ("floor", floor_port),
                     ("gateway", gateway_port), ("floor_gateway", floor_gateway_port))}  # fmt: skip
            factories = {"roles": "roles.main:app", "budget": "budget.main:app", "floor": "bench.baseline_app:app",
                         "gateway": "gateway.main:app", "floor_gateway": "gateway.main:app"}  # fmt: skip
            wanted = ["roles", "budget", "gateway"] if set(scenarios) & set(SUBMIT_SCENARIOS) else []
            wanted += ["floor", "floor_gateway"] if "floor" in scenarios else []
            for name in wanted:
                port = int(base[name].rsplit(":", 1)[1])
                if name in gateway_env:
                    _subprocess([sys.executable, "-m", "gateway", "migrate"], gateway_env[name])
                    upstream = gateway_env[name]["GATEWAY_BUDGET_URL"]
                    log(f"{name} on :{port} (budget upstream {upstream}, GATEWAY_RATE_LIMITS={GATEWAY_RATE_LIMITS})")
                    processes.start(name, uvicorn_command(factories[name], port), gateway_env[name])
                    # /healthz: its readiness would want every upstream, and only the budget one is here
                    processes.wait_healthy(name, f"{base[name]}/healthz", HEALTH_TIMEOUT_S)
                else:
                    log(f"{name} on :{port}")
                    processes.start(name, uvicorn_command(factories[name], port), env)
                    processes.wait_healthy(name, f"{base[name]}/readyz", HEALTH_TIMEOUT_S)

            load.run(_register(base["budget"], plans))
            for url in (budget_url, floor_url):
                with psycopg.connect(
                    _libpq(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, options=ADMIN_OPTIONS
                ) as conn:
                    conn.execute("VACUUM (ANALYZE)")
            log("vacuumed and analysed both databases; measuring")

            meter = Meter(processes, admin, list(names.values()))
            targets = Targets(base=base, budget_url=budget_url, floor_url=floor_url, floor_conn=floor_conn,
                              pgbench=pgbench_bin, work_dir=temp)  # fmt: skip
            for plan in plans:
                result = _measure(plan, targets, meter)
                outcomes.append(result)
                stats = result.stats
                log(
                    f"{plan.scenario:11} pots={plan.pots:<3} c={plan.concurrency:<3} {stats.rps:>8,.0f} req/s  "
                    f"p50 {stats.p50_ms:7.2f} ms  p99 {stats.p99_ms:7.2f} ms  ({stats.requests} requests, checked)  "
                    "CPU/req "
                    + ", ".join(f"{k} {v:.2f} ms" for k, v in result.cpu_ms_per_request.items())
                    + f"  other load {result.foreign_cpu_share:.0%}"
                )
        finally:
            floor_conn.close()
        notes += _server_log_notes(temp)
        busiest = max((r.foreign_cpu_share for r in outcomes), default=0.0)
        if busiest > FOREIGN_LOAD_WARNING:
            notes.append(
                f"Other work used up to {busiest:.0%} of the machine's CPU during a measured run (see 'other load'):"
                " those figures are disturbed; re-run on a quiet machine."
            )
    finally:
        log("stopping the servers")
        processes.stop_all()
        for name in created:
            try:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: PostgreSQL 13 or newer
            except psycopg.Error as exc:
                log(f"could not drop the database {name}: {exc}")
        admin.close()
        if args.keep_temp:
            log(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)

    finished = _now()
    settings = {
        "count": args.claims_count,
        "baseline_count": args.claims_count * BASELINE_FACTOR,
        "concurrency": args.claims_concurrency,
        "pots": args.claims_pots,
        "scenarios": scenarios,
        "revision": revision,
        "fy": FY,
        "role": ROLE,
        "budget": _budget_settings(env),
        "gateway": _gateway_settings(env),
        "warmup": {c: warmup_for(args.claims_count, c) for c in args.claims_concurrency},
        "baseline_warmup": {c: warmup_for(args.claims_count * BASELINE_FACTOR, c) for c in args.claims_concurrency},
    }
    report = claims_report.Report(
        command=command, started=started, finished=finished, machine=machine, settings=settings,
        results=outcomes, notes=notes,
    )  # fmt: skip
    print()
    print(report.console())
    results.write_section(args.results, "claims", report.markdown())
    stamp_utc = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (args.json_dir / f"claims-{stamp_utc}.json", args.json_dir / "claims-latest.json"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.document(), indent=2, default=str) + "\n")
    log(
        f"wrote the claims section of {os.path.relpath(args.results, REPO)} and "
        f"{os.path.relpath(args.json_dir, REPO)}/claims-latest.json"
    )
