"""The gateway as a platform team runs it: readiness that survives one upstream, and its metrics port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import httpx
from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Receive, Scope, Send

from arrs_kit.processes import free_port
from gateway.config import GatewaySettings
from gateway.main import create_app

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_one_upstream_down_leaves_the_gateway_ready_and_only_its_routes_503(
    gateway_settings: Callable[..., GatewaySettings], echo_upstream: ASGIApp
) -> None:
    echo = httpx.ASGITransport(app=echo_upstream)
    settings = gateway_settings(
        roles_url=f"http://127.0.0.1:{closed_port()}", upstream_connect_timeout_s=1.0, readiness_timeout_s=30
    )
    app = create_app(settings, transports={"budget": echo, "evaluation": echo}, configure_logs=False)
    unreachable = sample("arrs_gateway_upstream_errors_total", upstream="roles", error="unreachable")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        ready = await client.get("/readyz")
        roles = await client.get("/v1/roles", headers=ADMIN_KEY)
        posts = await client.get("/v1/posts", headers=ADMIN_KEY)
    await app.aclose()
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["upstreams"]["roles"].startswith("unreachable")
    assert ready.json()["upstreams"]["budget"] == "ready" == ready.json()["upstreams"]["gateway_database"]
    assert roles.status_code == 503 and roles.json()["type"] == "/problems/upstream-unavailable"
    assert posts.status_code == 200
    assert sample("arrs_gateway_upstream_errors_total", upstream="roles", error="unreachable") == unreachable + 1


async def test_no_upstream_ready_is_not_ready(gateway_settings: Callable[..., GatewaySettings]) -> None:
    down = {f"{name}_url": f"http://127.0.0.1:{closed_port()}" for name in ("roles", "budget", "evaluation")}
    app = create_app(
        gateway_settings(**down, upstream_connect_timeout_s=1.0, readiness_timeout_s=30), configure_logs=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        ready = await client.get("/readyz")
    await app.aclose()
    assert ready.status_code == 503
    assert set(ready.json()["upstreams"]) == {"roles", "budget", "evaluation", "gateway_database"}


async def test_metrics_are_served_on_their_own_port_never_on_the_public_one(
    gateway_settings: Callable[..., GatewaySettings], echo_upstream: ASGIApp
) -> None:
    echo = httpx.ASGITransport(app=echo_upstream)
    port = free_port()
    app = create_app(
        gateway_settings(metrics_port=port),
        transports={"roles": echo, "budget": echo, "evaluation": echo},
        configure_logs=False,
    )
    server = app.serve_metrics()
    assert server is not None
    proxied = {"service": "gateway", "route": "/v1/posts/…", "method": "GET", "status": "200"}
    requests_before = sample("arrs_http_requests_total", **proxied)
    upstream_before = sample("arrs_gateway_upstream_duration_seconds_count", upstream="budget", status="200")
    unmatched_before = sample(
        "arrs_http_requests_total", service="gateway", route="unmatched", method="GET", status="404"
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            for post in (12, 13):
                assert (await client.get(f"/v1/posts/{post}", headers=ADMIN_KEY)).status_code == 200
            public = await client.get("/metrics")
            through = await client.get("/v1/metrics", headers=ADMIN_KEY)
        async with httpx.AsyncClient(timeout=5) as scraper:
            scraped = await scraper.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()
        server.server_close()
        await app.aclose()
    assert public.status_code == 404 and through.status_code == 404
    assert scraped.status_code == 200 and "arrs_http_requests_total{" in scraped.text
    # Two proxied requests, one series whatever their ids; each upstream call timed by its status.
    assert sample("arrs_http_requests_total", **proxied) == requests_before + 2
    assert not any('route="/v1/posts/12"' in line for line in scraped.text.splitlines())
    upstream_after = sample("arrs_gateway_upstream_duration_seconds_count", upstream="budget", status="200")
    assert upstream_after == upstream_before + 2
    unmatched_after = sample(
        "arrs_http_requests_total", service="gateway", route="unmatched", method="GET", status="404"
    )
    assert unmatched_after == unmatched_before + 2


async def test_a_rate_limit_refusal_is_counted_by_client_kind(
    gateway_settings: Callable[..., GatewaySettings], echo_upstream: ASGIApp
) -> None:
    echo = httpx.ASGITransport(app=echo_upstream)
    app = create_app(
        gateway_settings(rate_limits={"admin": (0.001, 1)}),
        transports={"roles": echo, "budget": echo, "evaluation": echo},
        configure_logs=False,
    )
    before = sample("arrs_gateway_rate_limited_total", kind="admin", reason="rate-limit")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        statuses = [(await client.get("/v1/posts", headers=ADMIN_KEY)).status_code for _ in range(3)]
    await app.aclose()
    assert statuses == [200, 429, 429]
    assert sample("arrs_gateway_rate_limited_total", kind="admin", reason="rate-limit") == before + 2


def test_the_documents_contact_is_the_environments() -> None:
    from gateway.openapi_merge import merge_documents

    settings = GatewaySettings(api_contact_email="api@icb.example.org", api_contact_url="https://icb.example.org/api")
    info = merge_documents({}, version="1", contact=settings.api_contact())["info"]
    assert info["contact"] == {
        "name": "ARRS platform team",
        "email": "api@icb.example.org",
        "url": "https://icb.example.org/api",
    }
    assert merge_documents({}, version="1", contact=GatewaySettings().api_contact())["info"]["contact"] == {
        "name": "ARRS platform team"
    }


async def test_the_gateways_own_database_down_is_a_503_and_an_audit_row_is_never_a_crash(
    echo_upstream: ASGIApp,
) -> None:
    echo = httpx.ASGITransport(app=echo_upstream)
    settings = GatewaySettings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/gateway")
    app = create_app(settings, transports={"roles": echo, "budget": echo, "evaluation": echo}, configure_logs=False)
    failures = sample("arrs_gateway_audit_failures_total")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        looked_up = await client.get("/v1/posts", headers={"X-API-Key": "arrs_abc.def"})
        written = await client.post("/v1/posts", json={}, headers=ADMIN_KEY)  # the admin key needs no lookup
        ready = await client.get("/readyz")
    await app.aclose()
    assert looked_up.status_code == 503, looked_up.text
    assert looked_up.json()["type"] == "/problems/gateway-database-unavailable"
    assert looked_up.headers["retry-after"] == "2"
    assert written.status_code == 200  # answered; its audit row could not be written, and that is counted
    assert sample("arrs_gateway_audit_failures_total") == failures + 1
    assert ready.status_code == 503 and ready.json()["upstreams"]["gateway_database"].startswith("unreachable")


async def test_an_upstream_that_hangs_is_reported_not_ready_within_the_timeout(
    gateway_settings: Callable[..., GatewaySettings], echo_upstream: ASGIApp
) -> None:
    never = asyncio.Event()

    async def hang(scope: Scope, receive: Receive, send: Send) -> None:
        await never.wait()  # a service that accepted the connection and never answers

    echo = httpx.ASGITransport(app=echo_upstream)
    app = create_app(
        gateway_settings(readiness_timeout_s=0.2),
        transports={"roles": httpx.ASGITransport(app=hang), "budget": echo, "evaluation": echo},
        configure_logs=False,
    )
    states = await app.readiness()
    await app.aclose()
    assert states["roles"] == "not ready (timeout)"
    assert states["budget"] == "ready"
