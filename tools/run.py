"""``make run``: migrate every database (seeding the catalogue), then run the platform in the
foreground: the gateway and the three services as child processes. Ctrl-C (SIGINT) or SIGTERM stops
them all; if one dies, the others are stopped too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType

from arrs_kit import serve
from budget.config import BudgetSettings
from evaluation.config import EvaluationSettings
from gateway.config import GatewaySettings
from roles.config import RolesSettings

STOP_GRACE_S = 10.0


def uvicorn_command(factory: str, host: str, port: int) -> list[str]:
    return serve.uvicorn_command(factory, host, port, public=factory.startswith("gateway."))


def migrate_all() -> None:
    for package, command in (
        ("roles", "seed"),
        ("budget", "migrate"),
        ("evaluation", "migrate"),
        ("gateway", "migrate"),
    ):
        print(f"[run] migrating {package}", flush=True)
        subprocess.run([sys.executable, "-m", package, command], check=True)


def _wait_ready(
    url: str, processes: list[subprocess.Popen[bytes]], stopping: Callable[[], bool], timeout_s: float = 60.0
) -> bool:
    """Until the gateway is ready with every upstream (``status: ready``; ``degraded`` serves, but not all)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stopping():
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
                if response.status == 200 and json.load(response).get("status") == "ready":
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    return False


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.run")
    parser.add_argument("--migrate-only", action="store_true", help="migrate and seed, then exit")
    args = parser.parse_args()
    migrate_all()
    if args.migrate_only:
        return 0

    roles, budget, evaluation = RolesSettings(), BudgetSettings(), EvaluationSettings()
    env = os.environ.copy()
    # The gateway finds the services where this script starts them, unless told otherwise.
    env.setdefault("GATEWAY_ROLES_URL", f"http://{roles.host}:{roles.port}")
    env.setdefault("GATEWAY_BUDGET_URL", f"http://{budget.host}:{budget.port}")
    env.setdefault("GATEWAY_EVALUATION_URL", f"http://{evaluation.host}:{evaluation.port}")
    # The budget service reads role rates (for claims) from the roles service, likewise.
    env.setdefault("BUDGET_ROLES_URL", f"http://{roles.host}:{roles.port}")
    # The evaluation service reads posts and PCNs from budget, and job-plan templates from roles.
    env.setdefault("EVALUATION_BUDGET_URL", f"http://{budget.host}:{budget.port}")
    env.setdefault("EVALUATION_ROLES_URL", f"http://{roles.host}:{roles.port}")
    gateway = GatewaySettings()
    commands = [
        uvicorn_command("roles.main:app", roles.host, roles.port),
        uvicorn_command("budget.main:app", budget.host, budget.port),
        uvicorn_command("evaluation.main:app", evaluation.host, evaluation.port),
        uvicorn_command("gateway.main:app", gateway.host, gateway.port),
    ]
    processes = [subprocess.Popen(command, env=env) for command in commands]
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    base = f"http://{gateway.host}:{gateway.port}"
    if _wait_ready(f"{base}/readyz", processes, lambda: stopping):
        print(
            f"[run] ARRS platform ready: {base}  (docs {base}/docs; "
            f"try: curl -H 'X-API-Key: dev-admin-key' {base}/v1/roles)",
            flush=True,
        )
    exit_code = 0
    try:
        while not stopping:
            dead = [p for p in processes if p.poll() is not None]
            if dead:
                print(f"[run] a process exited (pid {dead[0].pid}, code {dead[0].returncode}); stopping", flush=True)
                exit_code = 1
                break
            time.sleep(0.2)
    finally:
        print("[run] stopping", flush=True)
        _stop(processes)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
