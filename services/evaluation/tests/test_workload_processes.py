"""A million workload records through real processes, in bounded memory (PostgreSQL).

A gateway process and an evaluation process, served as ``make run`` serves them, the evaluation
service on a migrated PostgreSQL database. The admin creates a practice-system client through the
gateway; that client posts 1,000,000 weekly records (about 220 MB of NDJSON) generated as they are
sent, never held whole by anyone: the gateway spools the body to a temporary file while hashing it,
and the service parses, checks and COPYs it as it streams. Each process's peak resident memory
(``VmHWM`` in ``/proc/<pid>/status``) must stay under its ceiling, far below the body's size; the
counts must be right and the rows in the database.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory, require_postgres
from tools.run import uvicorn_command

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[3]
RECORDS = 1_000_000
PRACTICES = tuple(f"P{n:05d}" for n in range(1, 10))  # 9 practices x 52 weeks x 2,160 keys > 1,000,000
ROLES: tuple[str, ...] = ("gp", "nurse", "other_practice_staff", "unknown", "clinical_pharmacist", "paramedic")
ROLES += ("physician_associate", "first_contact_physiotherapist")
CATEGORIES = (
    "general_consultation_routine",
    "general_consultation_acute",
    "planned_clinics",
    "clinical_triage",
    "planned_clinical_procedure",
    "structured_medication_review",
    "service_external_to_practice",
    "home_visit",
    "unplanned_clinical_activity",
    "care_home_round_contact",
    "care_home_visit",
    "social_prescribing_service",
    "care_home_needs_assessment",
    "non_contractual_chargeable_work",
    "walk_in",
    "group_consultation_and_education",
    "inconsistent_mapping",
    "unmapped",
)
MODES = ("face_to_face", "home_visit", "telephone", "video_online", "unknown")
STATUSES = ("attended", "dna", "unknown")
MONDAYS = tuple((date(2025, 1, 6) + timedelta(weeks=n)).isoformat() for n in range(52))
# Peak resident memory allowed to each process, and to its growth during the upload, whatever the
# body's size. Measured on a 2-CPU machine for a 220 MB body: the gateway peaked at 92 MiB (it grew by
# 2 during the upload), the evaluation service at 187 MiB (it grew by 17: it starts at some 170, with
# numpy and scipy loaded for the analyses).
GATEWAY_CEILING_MIB = 160
EVALUATION_CEILING_MIB = 300
GROWTH_CEILING_MIB = 100
DEADLINE_S = 90.0


def records() -> Iterator[bytes]:
    """The NDJSON body in pieces of about 64 KiB, made as they are sent; appointments = n % 97."""
    template = (
        '{{"practice_code":"{}","grain":"week","period_start":"{}","hcp_role":"{}",'
        '"national_category":"{}","mode":"{}","status":"{}","appointments":{},"minutes":{}}}\n'
    )
    keys = itertools.product(PRACTICES, MONDAYS, ROLES, CATEGORIES, MODES, STATUSES)
    lines: list[str] = []
    for n, (practice, week, role, category, mode, status) in enumerate(itertools.islice(keys, RECORDS)):
        lines.append(template.format(practice, week, role, category, mode, status, n % 97, n % 301))
        if len(lines) == 300:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class Process:
    def __init__(self, factory: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = log.open("wb")
        command = uvicorn_command(factory, "127.0.0.1", self.port)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + DEADLINE_S
        while not self._up():  # polling another process's readiness, bounded by the deadline
            if time.monotonic() > deadline:
                pytest.fail(f"{factory} not up within {DEADLINE_S} s: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def _up(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"the process exited: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def evaluation_db(database_factory: DatabaseFactory) -> Iterator[str]:
    require_postgres()
    url = database_factory.create("evaluation", "postgresql", lambda u: migrate.upgrade("evaluation", u))
    yield url
    database_factory.drop(url)


def test_a_million_records_stream_through_the_gateway_in_bounded_memory(tmp_path: Path, evaluation_db: str) -> None:
    gateway_db = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate.upgrade("gateway", gateway_db)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing here needs the roles or budget service
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ARRS_", "GATEWAY_", "EVALUATION_"))}
    evaluation = Process(
        "evaluation.main:app",
        {
            **base,
            "EVALUATION_DATABASE_URL": evaluation_db,
            "EVALUATION_BUDGET_URL": closed,
            "ARRS_LOG_LEVEL": "WARNING",
        },
        tmp_path / "evaluation.log",
    )
    gateway = None
    try:
        gateway = Process(
            "gateway.main:app",
            {
                **base,
                "GATEWAY_DATABASE_URL": gateway_db,
                "GATEWAY_EVALUATION_URL": evaluation.url,
                "GATEWAY_ROLES_URL": closed,
                "GATEWAY_BUDGET_URL": closed,
                # The merge of a million keys takes seconds after the last byte: more than the
                # default 10 s wait for an answer on a busy CI machine.
                "GATEWAY_UPSTREAM_TIMEOUT_S": "300",
                "ARRS_LOG_LEVEL": "WARNING",
            },
            tmp_path / "gateway.log",
        )
        admin = {"X-API-Key": "dev-admin-key"}
        client = {"name": "GP system feed", "kind": "practice_system", "org_codes": list(PRACTICES)}
        created = httpx.post(f"{gateway.url}/v1/clients", json=client, headers=admin, timeout=30)
        assert created.status_code == 201, created.text
        key = {"X-API-Key": created.json()["api_key"], "Content-Type": "application/x-ndjson"}
        pids = {"gateway": gateway.process.pid, "evaluation": evaluation.process.pid}
        before = {name: peak_rss_mib(pid) for name, pid in pids.items()}
        answer = httpx.post(f"{gateway.url}/v1/workload", content=records(), headers=key, timeout=600)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": RECORDS, "inserted": RECORDS, "replaced": 0}
        peaks = {name: peak_rss_mib(pid) for name, pid in pids.items()}
        print(f"peak RSS (MiB) before the upload {before}, after {peaks}")  # shown with -s
        assert peaks["gateway"] < GATEWAY_CEILING_MIB, peaks
        assert peaks["evaluation"] < EVALUATION_CEILING_MIB, peaks
        assert all(peaks[name] - before[name] < GROWTH_CEILING_MIB for name in pids), (before, peaks)
    finally:
        if gateway is not None:
            gateway.stop()
        evaluation.stop()
    engine = create_engine(evaluation_db)
    try:
        with engine.connect() as conn:
            count, total, practices = conn.execute(
                text("SELECT count(*), sum(appointments), count(DISTINCT practice_code) FROM workload")
            ).one()
            uploads = conn.execute(text("SELECT received, inserted, uploaded_by FROM workload_upload")).all()
    finally:
        engine.dispose()
    assert (count, practices) == (RECORDS, len(PRACTICES))
    assert total == sum(n % 97 for n in range(RECORDS))
    assert [tuple(u) for u in uploads] == [(RECORDS, RECORDS, "GP system feed")]
