"""A service that loses PostgreSQL answers 503 and recovers by itself when PostgreSQL returns.

The test starts a PostgreSQL instance of its own in a temporary directory, runs the budget service
as ``make run`` does (a uvicorn process) on it, and keeps four writers posting allocations, each with
an ``Idempotency-Key``. Under that load it stops PostgreSQL (``pg_ctl stop -m immediate``: a crash,
no goodbye to the connections), checks that the service answers 503 problems while it is down, and
starts PostgreSQL again on the same port. The same service process, never restarted, serves writes
again. Then: every allocation that was acknowledged (201) is in the ledger exactly once; an
allocation whose answer was a 503 is retried with its key, as a client would, and is applied at most
once; and the ledger verifies.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from arrs_kit.processes import ServiceProcess, free_port, poll
from arrs_kit.testing import GatewaySigner, in_ci

ROOT = Path(__file__).resolve().parents[2]
FY = "2025-26"
PCN = "U54321"
WRITERS = 4


def pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent  # beside the real pg_ctl: initdb, createdb
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class Instance:
    """One PostgreSQL server in a directory of its own, run as its owner (``postgres`` under root)."""

    bin: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def crash(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def instance() -> Iterator[Instance]:
    binaries = pg_bin()
    if binaries is None:
        message = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        if in_ci():
            pytest.fail(f"{message} (CI=true makes this test mandatory)", pytrace=False)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="arrs-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres account
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    server = Instance(binaries, root, free_port(), as_user)
    server.run("initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Ledger:
    """What the writers were told: acknowledged allocations, and those whose outcome is unknown."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def allocate(client: httpx.Client, key: str, amount: int) -> httpx.Response:
    return client.post(
        f"/v1/pcns/{PCN}/budgets/{FY}/allocations",
        json={"pot": "arrs", "amount_pence": amount, "reason": f"load {key}"},
        headers={"Idempotency-Key": key},
    )


def writer(base: str, number: int, ledger: Ledger, stop: threading.Event) -> None:
    with httpx.Client(base_url=base, auth=GatewaySigner(), timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            key, amount = f"w{number}-{n}", 100 + number * 1000 + n
            try:
                response = allocate(client, key, amount)
            except httpx.HTTPError as exc:
                with ledger.lock:
                    ledger.unknown[key] = amount
                    ledger.refusals.append((0, type(exc).__name__))
                continue
            with ledger.lock:
                if response.status_code == 201:
                    ledger.acknowledged[key] = amount
                else:
                    ledger.unknown[key] = amount
                    ledger.refusals.append((response.status_code, response.json().get("type", "")))


@pytest.mark.postgres
def test_postgresql_restarted_under_load_loses_nothing_and_needs_no_restart(instance: Instance, tmp_path: Path) -> None:
    instance.run("createdb", "-h", "127.0.0.1", "-p", str(instance.port), "-U", "postgres", "budget")
    url = instance.url("budget")
    env = {**os.environ, "BUDGET_DATABASE_URL": url, "BUDGET_IDEMPOTENCY_LEASE_S": "2"}
    subprocess.run([sys.executable, "-m", "budget", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    service = ServiceProcess("budget.main:app", env, tmp_path / "budget.log", cwd=ROOT)
    pid = service.pid
    ledger = Ledger()
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(service.url, n, ledger, stop)) for n in range(WRITERS)]
    try:
        with httpx.Client(base_url=service.url, auth=GatewaySigner(), timeout=10) as admin:
            for path, body in (
                ("/v1/icbs", {"code": "QWE", "name": "Test ICB"}),
                (
                    "/v1/pcns",
                    {"code": PCN, "name": "Restart PCN", "icb_code": "QWE", "practice_codes": ["B81001"],
                     "list_size": 10_000},
                ),
            ):  # fmt: skip
                assert admin.post(path, json=body).status_code == 201
            for thread in threads:
                thread.start()

            def acknowledged() -> int:
                with ledger.lock:
                    return len(ledger.acknowledged)

            poll(lambda: acknowledged() >= 40, "40 allocations acknowledged before the crash")
            instance.crash()
            # While PostgreSQL is down: 503 problems, never a 500, and readiness says so.
            down = allocate(admin, "while-down", 1)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/problem+json"
            assert down.headers["retry-after"]
            assert httpx.get(f"{service.url}/readyz", timeout=5).status_code == 503
            before_restart = acknowledged()
            instance.start()
            poll(service.ready, "the service ready again, by itself")
            poll(lambda: acknowledged() >= before_restart + 40, "40 more allocations acknowledged after the restart")
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            assert service.pid == pid and service.process.poll() is None  # the same process throughout
            # A client retries what it was not sure of, with the same key: applied at most once.
            unknown = dict(ledger.unknown)
            unknown["while-down"] = 1

            def settled(key: str, amount: int) -> bool:
                response = allocate(admin, key, amount)
                assert response.status_code in (201, 409), response.text  # 409: an unfinished attempt's lease
                return response.status_code == 201

            for key, amount in unknown.items():
                poll(functools.partial(settled, key, amount), f"allocation {key} settled by its retry")
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout=60)
        service.stop()
    refused = {status for status, _ in ledger.refusals}
    assert ledger.refusals and refused == {503}, ledger.refusals  # the writers met the outage: 503s, nothing else
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT idempotency_key, amount_pence FROM posting WHERE kind = 'top_up'")).all()
    finally:
        engine.dispose()
    stored: dict[str, list[int]] = {}
    for key, amount in rows:
        stored.setdefault(key, []).append(amount)
    expected = {**ledger.acknowledged, **unknown}
    assert stored == {key: [amount] for key, amount in expected.items()}
    verified = subprocess.run(
        [sys.executable, "-m", "budget", "verify-ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
