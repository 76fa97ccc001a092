"""One request followed across the platform as ``make run`` starts it: real processes export their
spans over OTLP/HTTP to a collector the test runs, and every app is scraped for its metrics.

A post is created through the gateway with a ``traceparent``. The gateway forwards it to the budget
service, which reads the role from the roles service: one trace, five spans chained parent to child
(gateway server → gateway client → budget server → budget client → roles server), each server span
naming the platform's request id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from arrs_kit.processes import free_port, poll
from tests.contract.test_processes import PHARMACIST_POST, REGISTER, wait_ready

ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
ADMIN = {"X-API-Key": "dev-admin-key"}


class Collector:
    """An OTLP/HTTP trace receiver: what each service exported, span by span."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
                )
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "service": service,
                                "name": span.name,
                                "kind": span.kind,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                                "attributes": {a.key: a.value for a in span.attributes},
                            }
                        )

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [span for span in self.spans if span["trace_id"] == trace_id]


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


SERVER, CLIENT = 2, 3  # OTLP's SpanKind values


def test_one_request_is_one_trace_across_the_platform_and_every_app_is_scraped(
    tmp_path: Path, collector: Collector
) -> None:
    ports = {name: free_port() for name in ("GATEWAY", "ROLES", "BUDGET", "EVALUATION")}
    metrics_port = free_port()
    env = {
        **os.environ,
        **{f"{name}_PORT": str(port) for name, port in ports.items()},
        **{f"{name}_DATABASE_URL": f"sqlite:///{tmp_path / name.lower()}.db" for name in ports},
        "ARRS_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second, not the default five
        "GATEWAY_METRICS_PORT": str(metrics_port),
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
        for path, body in REGISTER:
            assert httpx.post(f"{base}{path}", json=body, headers=ADMIN, timeout=10).status_code == 201
        created = httpx.post(
            f"{base}/v1/posts",
            json=PHARMACIST_POST,
            headers={**ADMIN, "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01", "X-Correlation-ID": "follow-me"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        request_id = created.headers["x-request-id"]
        assert created.headers["x-correlation-id"] == "follow-me"

        def whole_trace() -> bool:
            return {s["service"] for s in collector.of_trace(TRACE_ID) if s["kind"] == SERVER} >= {
                "gateway",
                "budget",
                "roles",
            }

        poll(whole_trace, "the spans of gateway, budget and roles exported")
        scraped = {
            "gateway": httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10),
            **{name.lower(): httpx.get(f"http://127.0.0.1:{ports[name]}/metrics", timeout=10)
               for name in ("ROLES", "BUDGET", "EVALUATION")},
        }  # fmt: skip
        public = httpx.get(f"{base}/metrics", timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()

    spans = collector.of_trace(TRACE_ID)
    by_id = {span["span_id"]: span for span in spans}
    gateway_server = next(s for s in spans if s["service"] == "gateway" and s["kind"] == SERVER)
    budget_server = next(s for s in spans if s["service"] == "budget" and s["kind"] == SERVER)
    roles_server = next(s for s in spans if s["service"] == "roles" and s["kind"] == SERVER)
    # Parent to child: the caller's span → gateway → its call → budget → its call → roles.
    assert gateway_server["parent"] == CALLER_SPAN and gateway_server["name"] == "POST /v1/posts"
    gateway_call = by_id[budget_server["parent"]]
    assert gateway_call["service"] == "gateway" and gateway_call["kind"] == CLIENT
    assert gateway_call["parent"] == gateway_server["span_id"]
    budget_call = by_id[roles_server["parent"]]
    assert budget_call["service"] == "budget" and budget_call["kind"] == CLIENT
    assert budget_call["parent"] == budget_server["span_id"]
    assert budget_server["name"] == "POST /v1/posts" and roles_server["name"].startswith("GET /v1/roles/")
    # The request id the client was given is on the gateway's span and the budget service's.
    for span in (gateway_server, budget_server):
        assert span["attributes"]["arrs.request_id"].string_value == request_id
    assert gateway_server["attributes"]["arrs.correlation_id"].string_value == "follow-me"

    assert public.status_code != 200  # the public door does not serve metrics
    for name, response in scraped.items():
        assert response.status_code == 200, name
        assert f'service="{name}"' in response.text
    assert 'route="/v1/posts",service="budget",status="201"' in scraped["budget"].text
    assert 'arrs_gateway_upstream_duration_seconds_count{status="201",upstream="budget"}' in scraped["gateway"].text
    assert 'arrs_db_pool_checked_out{service="roles"}' in scraped["roles"].text
