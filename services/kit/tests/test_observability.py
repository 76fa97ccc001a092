"""Metrics, tracing, retried internal reads and an unreachable database, as the kit provides them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from httpx_retries import RetryTransport
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from sqlalchemy import text

from arrs_kit.app import create_service_app
from arrs_kit.calls import internal_client
from arrs_kit.db import Database, ReadSessionDep
from arrs_kit.metrics import count_on_commit, counter
from arrs_kit.processes import free_port
from arrs_kit.settings import ServiceSettings
from arrs_kit.tracing import Tracing, TracingMiddleware

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


router = APIRouter()


@router.get("/v1/things/{thing_id}")
def read_thing(thing_id: int, session: ReadSessionDep) -> dict[str, int]:
    return {"id": thing_id, "one": int(session.execute(text("SELECT 1")).scalar_one())}


def service_app(name: str, settings: ServiceSettings, tracing: Tracing | None = None) -> FastAPI:
    return create_service_app(
        name=name,
        title="t",
        description="t",
        version="1",
        settings=settings,
        routers=[router],
        configure_logs=False,
        tracing=tracing,
    )


def make_app(database_url: str, tracing: Tracing | None = None, *, raise_errors: bool = True) -> httpx.AsyncClient:
    app = service_app("kit-test", ServiceSettings(database_url=database_url), tracing)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors)
    return httpx.AsyncClient(transport=transport, base_url="http://kit")


async def test_requests_are_counted_by_route_template_method_and_status(tmp_path: Path) -> None:
    labels = {"service": "kit-test", "route": "/v1/things/{thing_id}", "method": "GET"}
    ok_before = sample("arrs_http_requests_total", **labels, status="200")
    bad_before = sample("arrs_http_requests_total", **labels, status="422")
    async with make_app(f"sqlite:///{tmp_path / 'k.db'}") as client:
        for thing in (1, 2, 3):
            assert (await client.get(f"/v1/things/{thing}")).status_code == 200
        assert (await client.get("/v1/things/not-a-number")).status_code == 422
        other_before = sample("arrs_http_requests_total", **{**labels, "method": "OTHER"}, status="405")
        assert (await client.request("PROPFIND", "/v1/things/1")).status_code == 405
        assert sample("arrs_http_requests_total", **{**labels, "method": "OTHER"}, status="405") == other_before + 1
        scraped = await client.get("/metrics")
    assert sample("arrs_http_requests_total", **labels, status="200") == ok_before + 3
    assert sample("arrs_http_requests_total", **labels, status="422") == bad_before + 1
    assert sample("arrs_http_request_duration_seconds_count", **labels, status="200") >= 3
    assert scraped.headers["content-type"].startswith("text/plain")
    body = scraped.text
    # One series per template, never per raw path; the pool of the app's database is visible.
    assert 'route="/v1/things/{thing_id}"' in body and 'route="/v1/things/1"' not in body
    assert 'arrs_db_pool_checked_out{service="kit-test"} 0.0' in body
    assert 'arrs_db_pool_size{service="kit-test"}' in body
    assert 'arrs_db_pool_capacity{service="kit-test"} 15.0' in body  # SQLAlchemy's default: 5 + 10 overflow


def test_a_count_waits_for_its_commit_and_a_rollback_drops_it(tmp_path: Path) -> None:
    metric = counter("arrs_kit_test_commits", "Test counter.", ("outcome",))
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with db.writer() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            count_on_commit(session, metric, outcome="kept")
            count_on_commit(session, metric, 2, outcome="kept")
            assert sample("arrs_kit_test_commits_total", outcome="kept") == 0  # not before the commit
            session.commit()
        with db.writer() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            count_on_commit(session, metric, outcome="dropped")
            session.rollback()
            session.execute(text("INSERT INTO t VALUES (2)"))
            session.commit()  # a later commit of the same session does not revive a rolled-back count
        with db.writer() as session:
            count_on_commit(session, metric, outcome="kept")
            savepoint = session.begin_nested()
            count_on_commit(session, metric, outcome="dropped")
            savepoint.rollback()  # a savepoint rolled back drops what it counted, not what came before
            kept = session.begin_nested()
            count_on_commit(session, metric, outcome="kept")
            kept.commit()
            session.commit()
    finally:
        db.dispose()
    assert sample("arrs_kit_test_commits_total", outcome="kept") == 5
    assert sample("arrs_kit_test_commits_total", outcome="dropped") == 0


def in_memory_tracing(service: str) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(service, provider), exporter


async def test_a_request_continues_the_callers_trace_and_names_its_request_id(tmp_path: Path) -> None:
    tracing, exporter = in_memory_tracing("kit-test")
    async with make_app(f"sqlite:///{tmp_path / 't.db'}", tracing) as client:
        response = await client.get("/v1/things/7", headers={"traceparent": f"00-{TRACE_ID}-{PARENT}-01"})
        fresh = await client.get("/v1/things/8")
    (continued, started) = exporter.get_finished_spans()
    assert continued.kind is SpanKind.SERVER and continued.name == "GET /v1/things/{thing_id}"
    assert format(continued.context.trace_id, "032x") == TRACE_ID
    assert continued.parent is not None and format(continued.parent.span_id, "016x") == PARENT
    assert continued.attributes is not None and started.attributes is not None
    assert continued.attributes["arrs.request_id"] == response.headers["x-request-id"]
    assert continued.attributes["http.response.status_code"] == 200
    # Without a traceparent a request starts a trace of its own.
    assert started.parent is None and format(started.context.trace_id, "032x") != TRACE_ID
    assert started.attributes["arrs.request_id"] == fresh.headers["x-request-id"]


def test_an_internal_call_carries_its_client_span_on() -> None:
    tracing, exporter = in_memory_tracing("caller")
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["traceparent"])
        return httpx.Response(200, json={})

    with (
        internal_client(
            "http://other", peer="other", timeout=1, tracing=tracing, transport=httpx.MockTransport(answer)
        ) as client,
        tracing.tracer.start_as_current_span("request") as parent,
    ):
        client.get("/v1/x")
    (call, _request) = exporter.get_finished_spans()
    assert call.kind is SpanKind.CLIENT and call.parent is not None
    assert call.parent.span_id == parent.get_span_context().span_id
    trace_id, span_id = seen[0].split("-")[1:3]
    assert trace_id == format(call.context.trace_id, "032x") and span_id == format(call.context.span_id, "016x")


def failing(
    times: int, error: type[httpx.TransportError], calls: list[str]
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) <= times:
            raise error("refused", request=request)
        return httpx.Response(200, json={"ok": True})

    return answer


def test_a_read_that_never_arrived_is_tried_again_a_bounded_number_of_times() -> None:
    calls: list[str] = []
    with internal_client(
        "http://o", peer="o", timeout=1, transport=httpx.MockTransport(failing(2, httpx.ConnectError, calls))
    ) as client:
        assert client.get("/v1/x").json() == {"ok": True}
    assert calls == ["GET", "GET", "GET"]
    calls.clear()
    with (
        internal_client(
            "http://o", peer="o", timeout=1, transport=httpx.MockTransport(failing(5, httpx.ConnectError, calls))
        ) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("/v1/x")
    assert calls == ["GET"] * 3  # the first try and two retries
    calls.clear()
    with (
        internal_client(
            "http://o", peer="o", timeout=1, transport=httpx.MockTransport(failing(1, httpx.ConnectError, calls))
        ) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.post("/v1/x", json={})
    assert calls == ["POST"]  # a write is never sent twice
    calls.clear()
    with (
        internal_client(
            "http://o", peer="o", timeout=1, transport=httpx.MockTransport(failing(1, httpx.ReadTimeout, calls))
        ) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/v1/x")
    assert calls == ["GET"]  # it may have arrived: its single-use signature would be refused a second time
    for error in (httpx.RemoteProtocolError, httpx.ConnectTimeout):
        calls.clear()
        with (
            internal_client(
                "http://o", peer="o", timeout=1, transport=httpx.MockTransport(failing(1, error, calls))
            ) as client,
            pytest.raises(error),
        ):
            client.get("/v1/x")
        assert calls == ["GET"]  # broken after sending, or a whole timeout spent: not tried again


def test_an_answer_is_never_retried_even_a_503() -> None:
    calls: list[int] = []

    def unavailable(_request: httpx.Request) -> httpx.Response:
        calls.append(503)
        return httpx.Response(503, headers={"Retry-After": "1"})

    with internal_client("http://o", peer="o", timeout=1, transport=httpx.MockTransport(unavailable)) as client:
        assert client.get("/v1/x").status_code == 503
    assert calls == [503]


async def test_an_unreachable_database_is_503_with_retry_after(tmp_path: Path) -> None:
    """Nothing listens on the port: every query fails to connect. 503, never 500; readiness says so."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    async with make_app(url) as client:
        response = await client.get("/v1/things/1")
        ready = await client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/database-unavailable")
    assert response.headers["retry-after"] == "2"
    assert ready.status_code == 503


def test_without_an_endpoint_tracing_installs_nothing(tmp_path: Path) -> None:
    app = service_app("kit-untraced", ServiceSettings(database_url=f"sqlite:///{tmp_path / 'u.db'}"))
    assert app.state.tracing is None
    assert TracingMiddleware not in [getattr(m, "cls", None) for m in app.user_middleware]
    with internal_client("http://o", peer="o", timeout=1) as client:
        transport = client._transport  # the retry layer, then straight to the pooled HTTP transport
        assert isinstance(transport, RetryTransport)
        assert isinstance(transport._sync_transport, httpx.HTTPTransport)
    endpoint = "http://127.0.0.1:4318"
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'v.db'}", ARRS_OTLP_ENDPOINT=endpoint)
    traced = service_app("kit-traced", settings)
    assert traced.state.tracing is not None
    assert TracingMiddleware in [getattr(m, "cls", None) for m in traced.user_middleware]


@router.get("/v1/missing")
def read_missing(session: ReadSessionDep) -> dict[str, int]:
    return {"n": int(session.execute(text("SELECT count(*) FROM no_such_table")).scalar_one())}


def test_only_the_databases_state_is_a_503_a_bug_stays_a_500() -> None:
    from psycopg import errors as pg
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from arrs_kit.unavailable import database_state

    def wrapped(orig: Exception) -> OperationalError:
        return OperationalError("SELECT 1", {}, orig)

    assert database_state(PoolTimeout("QueuePool limit reached")) == "unavailable"
    assert database_state(wrapped(pg.AdminShutdown("terminating connection"))) == "unavailable"
    assert database_state(wrapped(pg.TooManyConnections("too many clients"))) == "unavailable"
    assert database_state(wrapped(pg.SerializationFailure("could not serialize"))) == "conflict"
    assert database_state(wrapped(pg.DeadlockDetected("deadlock"))) == "conflict"
    assert database_state(wrapped(pg.UndefinedTable("relation does not exist"))) is None
    assert database_state(ValueError("not a database error")) is None


async def test_a_missing_table_is_a_500_not_an_outage(tmp_path: Path) -> None:
    async with make_app(f"sqlite:///{tmp_path / 'm.db'}", raise_errors=False) as client:
        response = await client.get("/v1/missing")
    assert response.status_code == 500
    assert response.json()["type"].endswith("/internal-error")
