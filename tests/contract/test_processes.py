"""The platform as ``make run`` starts it: real processes, real sockets, then a clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from arrs_kit.processes import free_port
from arrs_kit.testing import DatabaseFactory

ROOT = Path(__file__).resolve().parents[2]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the platform exited early with code {process.returncode}")
        try:
            response = httpx.get(url, timeout=2)
            # The gateway serves once one upstream is ready ("degraded"); the platform is up when all are.
            if response.status_code == 200 and response.json().get("status") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)  # polling an external process's readiness, bounded by the deadline
    pytest.fail(f"{url} was not ready within {timeout_s} s")


REGISTER: list[tuple[str, dict[str, Any]]] = [
    ("/v1/icbs", {"code": "QHM", "name": "North East and North Cumbria"}),
    (
        "/v1/pcns",
        {"code": "U12345", "name": "Riverside", "icb_code": "QHM", "practice_codes": ["A81001"], "list_size": 20_000},
    ),
]
"""An ICB and a PCN with one practice, from an empty register."""

PHARMACIST_POST: dict[str, Any] = {
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A81001",
    "practice_codes": ["A81001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Pharmacist",
}
"""A full-time clinical pharmacist of that PCN since April 2024."""


def claim_preview(base: str) -> dict[str, Any]:
    """A clinical pharmacist's October 2024 claim previewed through the gateway, from an empty register."""
    admin = {"X-API-Key": "dev-admin-key"}
    steps: list[tuple[str, dict[str, Any]]] = [
        *REGISTER,
        ("/v1/pcns/U12345/budgets/2024-25/allocations", {"pot": "arrs", "amount_pence": 1_000_000, "reason": "r"}),
        ("/v1/posts", PHARMACIST_POST),
    ]
    for path, body in steps:
        response = httpx.post(f"{base}{path}", json=body, headers=admin, timeout=10)
        assert response.status_code == 201, response.text
    amounts = {"salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}
    response = httpx.post(
        f"{base}/v1/claims/preview", json={"post_id": 1, "month": "2024-10", **amounts}, headers=admin, timeout=10
    )
    assert response.status_code == 200, response.text
    preview: dict[str, Any] = response.json()
    return preview


def test_make_run_serves_the_catalogue_and_stops_on_ctrl_c(
    tmp_path: Path, backend: str, database_factory: DatabaseFactory
) -> None:
    ports = {name: free_port() for name in ("GATEWAY", "ROLES", "BUDGET", "EVALUATION")}
    services = ("ROLES", "BUDGET", "EVALUATION", "GATEWAY")
    if backend == "sqlite":
        urls = {name: f"sqlite:///{tmp_path / name.lower()}.db" for name in services}
    else:
        # Empty PostgreSQL databases, as an operator would create them: `make run` migrates them.
        made = {name: database_factory.create(f"run_{name.lower()}", backend, lambda _url: None) for name in services}
        urls = {name: url.replace("postgresql+psycopg://", "postgresql://") for name, url in made.items()}
    env = {
        **os.environ,
        **{f"{name}_PORT": str(port) for name, port in ports.items()},
        **{f"{name}_DATABASE_URL": url for name, url in urls.items()},
    }
    for key in ("GATEWAY_ROLES_URL", "GATEWAY_BUDGET_URL", "GATEWAY_EVALUATION_URL", "BUDGET_ROLES_URL"):
        env.pop(key, None)
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{ports['GATEWAY']}"
    try:
        wait_ready(f"{base}/readyz", process)
        response = httpx.get(
            f"{base}/v1/roles",
            params={"limit": 500},
            headers={"X-API-Key": "dev-admin-key", "X-Request-ID": "proc-1"},
            timeout=10,
        )
        assert response.status_code == 200
        assert len(response.json()["data"]) == 26
        assert response.headers["x-correlation-id"] == "proc-1" != response.headers["x-request-id"]
        assert httpx.get(f"{base}/v1/roles", timeout=10).status_code == 401
        document = httpx.get(f"{base}/openapi.json", timeout=10).json()
        assert "/v1/rates" in document["paths"]
        if backend == "sqlite":
            assert (tmp_path / "roles.db").exists()
        # The budget service reads role rates from the roles service on the port `make run` gave it.
        assert claim_preview(base)["rate_period"]["annual_max_pence"] == 6_583_800
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("the platform did not stop within 30 s of SIGINT")
        log.close()
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert not any(port_open(port) for port in ports.values()), "a child process outlived the platform"
