"""Test support for real processes: a free port, waiting on another process, and one uvicorn app
served as ``make run`` serves it, its output in a log file.

Waiting is always for a state (a port that answers, a row that appears) and bounded by a deadline;
nothing is decided by how long anything took.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx
import pytest

from arrs_kit.serve import uvicorn_command

DEADLINE_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def poll(condition: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    """Wait until ``condition()`` holds (a state of another process), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(0.05)


class ServiceProcess:
    """One app (``package.main:app``) in a uvicorn process of its own, served as ``make run`` serves
    it, ready (``ready_path`` answers 200) when made."""

    def __init__(
        self,
        factory: str,
        env: dict[str, str],
        log: Path,
        *,
        cwd: Path | None = None,
        ready_path: str = "/readyz",
        timeout_s: float = DEADLINE_S,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log: IO[bytes] = log.open("ab")
        command = uvicorn_command(factory, "127.0.0.1", self.port, public=factory.startswith("gateway."))
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.ready_url = self.url + ready_path
        poll(self.ready, f"{factory} on port {self.port} ready", timeout_s)

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"the process exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(self.ready_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, number: signal.Signals) -> None:
        if self.process.poll() is None:
            self.process.send_signal(number)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
