"""The gateway as a real process, served exactly as ``make run`` serves it, against raw sockets: what a
hostile client can send that no HTTP client library would.

Before the edge checks, 100,000 small headers froze every request of the gateway (``/healthz``
included) for minutes, a malformed request was answered in ``text/plain``, and a spoofed
``X-Forwarded-For`` from a local peer was believed (uvicorn trusts local peers by default).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from arrs_kit import migrate
from arrs_kit.processes import ServiceProcess, free_port
from tests.contract.test_processes import ROOT


def exchange(port: int, request: bytes, timeout_s: float = 60.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as written on a new connection; read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as conn:
        conn.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    status = int(lines[0].split(" ")[1])
    return status, headers, body


def get(path: str, *headers: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: gateway", *headers, "", ""])).encode()


@pytest.fixture
def gateway_port(tmp_path: Path) -> Iterator[int]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate.upgrade("gateway", url)
    closed = free_port()  # no service behind it: these checks happen before any forwarding
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_ROLES_URL": f"http://127.0.0.1:{closed}",
        "GATEWAY_BUDGET_URL": f"http://127.0.0.1:{closed}",
        "GATEWAY_EVALUATION_URL": f"http://127.0.0.1:{closed}",
        "GATEWAY_AUTH_FAILURES_PER_SOURCE": "5",
    }
    gateway = ServiceProcess("gateway.main:app", env, tmp_path / "gateway.log", cwd=ROOT, ready_path="/healthz")
    try:
        yield gateway.port
    finally:
        gateway.stop()


def test_a_header_flood_is_431_while_other_requests_are_served(gateway_port: int) -> None:
    flood = (
        b"GET /v1/roles HTTP/1.1\r\nHost: gateway\r\nX-API-Key: dev-admin-key\r\n"
        + b"".join(b"x-h%d: 1\r\n" % i for i in range(100_000))
        + b"\r\n"
    )
    answered: list[tuple[int, dict[str, str], bytes]] = []
    flooding = threading.Thread(target=lambda: answered.append(exchange(gateway_port, flood)))
    flooding.start()
    health = [exchange(gateway_port, get("/healthz"))[0]]
    while flooding.is_alive():  # keep asking while the flood is in flight: every answer must come
        health.append(exchange(gateway_port, get("/healthz"))[0])
    flooding.join()
    (status, headers, body) = answered[0]
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["type"] == "/problems/request-header-fields-too-large"
    assert health and set(health) == {200}
    # One header of a megabyte is refused the same way.
    big = get("/v1/roles", "X-API-Key: dev-admin-key", "X-Big: " + "v" * 1_048_576)
    assert exchange(gateway_port, big)[0] == 431


def test_a_malformed_request_gets_a_problem(gateway_port: int) -> None:
    for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"):
        status, headers, body = exchange(gateway_port, garbage)
        assert status == 400
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["type"] == "/problems/malformed-request"


def test_a_spoofed_forwarded_for_from_a_local_peer_is_not_believed(gateway_port: int) -> None:
    # Failed keys are counted per source address: were X-Forwarded-For believed, a new address per
    # attempt would never be throttled. Five failures allowed per source here, then 429.
    statuses = [
        exchange(gateway_port, get("/v1/roles", f"X-API-Key: wrong-{i}", f"X-Forwarded-For: 10.1.0.{i}"))[0]
        for i in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2
    # The admin key is throttled with the rest: no unlimited guessing.
    assert exchange(gateway_port, get("/v1/roles", "X-API-Key: dev-admin-key"))[0] == 429
    status, headers, _ = exchange(gateway_port, get("/v1/roles", "X-API-Key: nope"))
    assert status == 429 and re.fullmatch(r"\d+", headers["retry-after"])
