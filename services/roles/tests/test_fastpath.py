"""Catalogue reads asked before are answered before FastAPI (roles.fastpath): the same bytes and
headers as FastAPI gave, 304 included; never to a kind the read refuses; never across a change."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from arrs_kit.principal import Principal
from arrs_kit.testing import ADMIN, asgi_client
from roles import snapshot as snapshot_module
from roles.config import RolesSettings
from roles.main import create_app

ON: dict[str, str | int] = {"on": "2026-05-01", "geography": "national", "limit": 500}
PRACTICE = Principal(kind="practice_system", client_id="test-practice", org_codes=("A12345",))
DASHBOARD = Principal(kind="dashboard", client_id="test-dashboard", org_codes=())
DESCRIBING = ("content-type", "etag", "cache-control", "vary")


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reads FastAPI routed (each calls ``served``); a read answered before FastAPI adds nothing."""
    seen: list[str] = []
    served = snapshot_module.served

    def counting(request: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(request.url.path)
        return served(request, *args, **kwargs)

    for module in ("roles.routers", "roles.snapshot"):
        monkeypatch.setattr(f"{module}.served", counting, raising=False)
    return seen


def requests_of(route: str) -> float:
    labels = {"service": "roles", "route": route, "method": "GET", "status": "200"}
    return REGISTRY.get_sample_value("arrs_http_requests_total", labels) or 0.0


async def test_a_read_asked_again_gets_the_same_answer_without_fastapi(roles_db_url: str, routed: list[str]) -> None:
    app = create_app(RolesSettings(database_url=roles_db_url), configure_logs=False)
    counted = requests_of("/v1/rates")
    async with asgi_client(app, principal=DASHBOARD) as client:
        first = await client.get("/v1/rates", params=ON)
        again = await client.get("/v1/rates", params=ON)
        unchanged = await client.get("/v1/rates", params=ON, headers={"If-None-Match": first.headers["etag"]})
        csv = await client.get("/v1/rates", params=ON, headers={"Accept": "text/csv"})
        role = [await client.get("/v1/roles/clinical_pharmacist") for _ in range(2)]
    assert routed == ["/v1/rates", "/v1/rates", "/v1/roles/clinical_pharmacist"]  # the first of each; the CSV
    assert first.status_code == again.status_code == 200 and again.content == first.content
    assert {h: again.headers[h] for h in DESCRIBING} == {h: first.headers[h] for h in DESCRIBING}
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == first.headers["etag"] and unchanged.headers["vary"] == "Accept"
    assert csv.headers["content-type"].startswith("text/csv") and csv.content != first.content
    assert role[1].content == role[0].content and role[1].headers["etag"] == role[0].headers["etag"]
    assert requests_of("/v1/rates") == counted + 3  # counted under its route, fast or not


async def test_a_kind_the_read_refuses_is_refused_however_often_others_asked(roles_db_url: str) -> None:
    app = create_app(RolesSettings(database_url=roles_db_url), configure_logs=False)
    async with asgi_client(app, principal=DASHBOARD) as reader:
        assert (await reader.get("/v1/rates", params=ON)).status_code == 200
        assert (await reader.get("/v1/rates", params=ON)).status_code == 200
        async with asgi_client(app, principal=PRACTICE) as practice:
            refused = [await practice.get("/v1/rates", params=ON) for _ in range(2)]
    assert [r.status_code for r in refused] == [403, 403]


async def test_a_change_is_read_at_once_and_a_malformed_query_is_never_remembered(roles_db_url: str) -> None:
    app = create_app(RolesSettings(database_url=roles_db_url), configure_logs=False)
    period = {
        "geography": "national",
        "effective_from": "2026-04-01",
        "annual_max_pence": 6_900_000,
        "provenance": "published",
        "source": "Network Contract DES 2026/27, Table 2",
    }
    async with asgi_client(app, principal=ADMIN) as client:
        before = [await client.get("/v1/rates", params=ON) for _ in range(2)]
        assert (await client.post("/v1/roles/clinical_pharmacist/rates", json=period)).status_code == 201
        after = await client.get("/v1/rates", params=ON)
        bad = [await client.get("/v1/rates", params={**ON, "limit": 0}) for _ in range(2)]
    (rate,) = [r for r in after.json()["data"] if r["role_code"] == "clinical_pharmacist"]
    assert before[1].content == before[0].content and after.content != before[0].content
    assert rate["annual_max_pence"] == 6_900_000 and after.headers["etag"] != before[0].headers["etag"]
    assert [r.status_code for r in bad] == [422, 422]
