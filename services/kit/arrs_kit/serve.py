"""How every app is served: one uvicorn process, uvloop, a given HTTP protocol, no uvicorn access log
(the apps log their own requests)."""

from __future__ import annotations

import sys

PUBLIC_HTTP = "gateway.server:ProblemHttpToolsProtocol"
"""The public door's HTTP protocol: problem+json even for a request it cannot parse."""


def uvicorn_command(factory: str, host: str, port: int, *, public: bool = False) -> list[str]:
    """The command that serves ``factory`` (``package.main:app``). The public door (``public``, the
    gateway) answers malformed requests itself and decides which ``X-Forwarded-For`` to believe, so
    uvicorn's own proxy-header handling (which trusts any local peer) is off for it."""
    http = ["--http", PUBLIC_HTTP, "--no-proxy-headers"] if public else ["--http", "httptools"]
    return [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--host", host, "--port", str(port),
        "--loop", "uvloop", *http,
        "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip
