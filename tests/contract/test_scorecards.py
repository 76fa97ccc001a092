"""PCN scorecards through the gateway, composed from the three real services in this process: whole,
in the caller's scope, and partial (never a 500) with each service stopped or stalled in turn."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from arrs_kit import migrate
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import DatabaseFactory
from evaluation.clients.budget import BudgetClient
from evaluation.config import EvaluationSettings
from evaluation.main import create_app as create_evaluation
from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app

ADMIN = {"X-API-Key": "dev-admin-key"}
POST = {
    "pcn_code": "U00001",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "30",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A00001",
    "practice_codes": ["A00001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Pharmacist",
}
AS_OF = {"fy": "2024-25", "as_of": "2025-01-15"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def stalled(scope: Scope, receive: Receive, send: Send) -> None:
    """An upstream that accepts the request and never answers (a hung process)."""
    await asyncio.Event().wait()


@pytest.fixture
def make_gateway(
    service_apps: dict[str, FastAPI], database_factory: DatabaseFactory
) -> Iterator[Callable[..., Gateway]]:
    url = database_factory.create("gateway", "sqlite", partial(migrate.upgrade, "gateway"))

    def make(*, down: str | None = None, stalled_service: str | None = None) -> Gateway:
        apps = dict(service_apps)
        nowhere = f"http://127.0.0.1:{closed_port()}"
        if down == "budget":
            # The evaluation service reads the register from the budget service too: it loses it as well.
            evaluation = service_apps["evaluation"]
            apps["evaluation"] = create_evaluation(
                EvaluationSettings(database_url=evaluation.state.settings.database_url),
                configure_logs=False,
                budget=BudgetClient.over_http(nowhere, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0, timeout_s=2),
                roles=evaluation.state.roles,
            )
        transports: dict[str, httpx.AsyncBaseTransport] = {
            name: httpx.ASGITransport(app=app) for name, app in apps.items() if name != down
        }
        if stalled_service:
            transports[stalled_service] = httpx.ASGITransport(app=stalled)
        overrides: dict[str, Any] = {f"{down}_url": nowhere} if down else {}
        # With a stalled service its parts wait out the timeout: 3 s, so that on a busy machine the other
        # services' parts (answered in-process in well under a second) are never taken for stalled too.
        settings = GatewaySettings(
            database_url=url, rate_limits={}, scorecard_timeout_s=3.0 if stalled_service else 5.0, **overrides
        )
        return create_app(settings, transports=transports, configure_logs=False)

    yield make
    database_factory.drop(url)


async def client_of(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw")


async def setup_register(gw: httpx.AsyncClient) -> dict[str, str]:
    for code, name in (("QHM", "North East"), ("QOX", "South West")):
        assert (await gw.post("/v1/icbs", json={"code": code, "name": name}, headers=ADMIN)).status_code == 201
    for pcn, icb, practices in (("U00001", "QHM", ["A00001", "A00002"]), ("U00002", "QOX", ["B00001"])):
        body = {"code": pcn, "name": f"PCN {pcn}", "icb_code": icb, "practice_codes": practices, "list_size": 20_000}
        assert (await gw.post("/v1/pcns", json=body, headers=ADMIN)).status_code == 201
    assert (await gw.post("/v1/posts", json=POST, headers=ADMIN)).status_code == 201
    funds = {"pot": "arrs", "amount_pence": 10_000_000, "reason": "Year"}
    assert (await gw.post("/v1/pcns/U00001/budgets/2024-25/allocations", json=funds, headers=ADMIN)).status_code == 201
    assert (await gw.put("/v1/job-plans/1", json={"purpose": "Medicines"}, headers=ADMIN)).status_code == 201
    assert (await gw.put("/v1/readiness/U00001", json={"cells": []}, headers=ADMIN)).status_code == 201
    keys = {}
    for name, kind, codes in (("pcn", "pcn", ["U00001"]), ("outsider", "icb", ["QOX"]), ("icb", "icb", ["QHM"])):
        body = {"name": name, "kind": kind, "org_codes": codes}
        keys[name] = (await gw.post("/v1/clients", json=body, headers=ADMIN)).json()["api_key"]
    return keys


async def test_a_whole_scorecard_in_the_callers_scope(make_gateway: Callable[..., Gateway]) -> None:
    async with await client_of(make_gateway()) as gw:
        keys = await setup_register(gw)
        response = await gw.get("/v1/scorecards/u00001", params=AS_OF, headers={"X-API-Key": keys["pcn"]})
        assert response.status_code == 200, response.text
        card = response.json()
        assert card["parts_missing"] == []
        assert (card["pcn_code"], card["pcn_name"], card["icb_code"], card["fy"]) == (
            "U00001",
            "PCN U00001",
            "QHM",
            "2024-25",
        )
        assert card["budget"][0]["allocated_pence"] == 10_000_000 and card["forecast"][0]["pot"] == "arrs"
        assert card["posts_by_role"] == [
            {"role_code": "clinical_pharmacist", "role_name": "Clinical pharmacist", "posts_in_post": 1, "wte": "0.80"}
        ]
        assert card["at_risk_posts"]["posts_evaluated"] == 1
        assert [r["code"] for r in card["at_risk_posts"]["posts"][0]["reasons"]] == ["no_kpi"]
        assert card["workload_shift"][0]["role_code"] == "clinical_pharmacist"
        assert card["readiness"]["version"] == 1 and card["true_cost"]["fy"] == "2024-25"
        # Another ICB's client, or a practice system, has no such PCN: 404, as from the budget service.
        outsider = await gw.get("/v1/scorecards/U00001", params=AS_OF, headers={"X-API-Key": keys["outsider"]})
        assert outsider.status_code == 404 and outsider.json()["type"] == "/problems/pcn-not-found"
        assert (await gw.get("/v1/scorecards/U00001", params={"fy": "2024"}, headers=ADMIN)).status_code == 422


async def test_an_icbs_pcns_one_row_each(make_gateway: Callable[..., Gateway]) -> None:
    async with await client_of(make_gateway()) as gw:
        keys = await setup_register(gw)
        page = (
            await gw.get("/v1/scorecards", params={"icb_code": "qhm", **AS_OF}, headers={"X-API-Key": keys["icb"]})
        ).json()
        assert [
            (r["pcn_code"], r["allocated_pence"], r["posts_in_post"], r["posts_at_risk"]) for r in page["data"]
        ] == [("U00001", 10_000_000, 1, 1)]
        assert page["parts_missing"] == [] and page["next_cursor"] is None
        elsewhere = await gw.get("/v1/scorecards", params={"icb_code": "QHM"}, headers={"X-API-Key": keys["outsider"]})
        assert elsewhere.json()["data"] == []
        table = await gw.get("/v1/scorecards", params={"icb_code": "QHM", "format": "csv", **AS_OF}, headers=ADMIN)
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert [(r["icb_code"], r["pcn_code"], r["readiness_percent_in_place"]) for r in rows] == [
            ("QHM", "U00001", "0.0")
        ]


@pytest.mark.parametrize("service", ["roles", "budget", "evaluation"])
async def test_a_service_stopped_leaves_its_parts_out(make_gateway: Callable[..., Gateway], service: str) -> None:
    async with await client_of(make_gateway()) as gw:
        await setup_register(gw)
    async with await client_of(make_gateway(down=service)) as gw:
        response = await gw.get("/v1/scorecards/U00001", params=AS_OF, headers=ADMIN)
        assert response.status_code == 200, response.text
        card = response.json()
    gaps = {g["part"]: g for g in card["parts_missing"]}
    expected = {
        "roles": {"role_names"},
        # Without the register nothing can be read in scope: every part but the roles' names is missing.
        "budget": {"pcn", "budget", "forecast", "posts_by_role", *EVALUATION},
        "evaluation": set(EVALUATION),
    }[service]
    assert set(gaps) == expected
    assert all(g["status"] in (None, 503) and g["reason"] for g in gaps.values())
    for part in expected - {"role_names", "pcn"}:
        assert card[part] is None
    if service == "roles":
        assert card["posts_by_role"][0]["role_name"] is None and card["posts_by_role"][0]["posts_in_post"] == 1


EVALUATION = ("kpi_attainment", "at_risk_posts", "workload_shift", "true_cost", "readiness")


async def test_an_icb_list_without_its_evaluation_keeps_its_money_and_without_its_budget_is_503(
    make_gateway: Callable[..., Gateway],
) -> None:
    async with await client_of(make_gateway()) as gw:
        await setup_register(gw)
    async with await client_of(make_gateway(down="evaluation")) as gw:
        response = await gw.get("/v1/scorecards", params={"icb_code": "QHM", **AS_OF}, headers=ADMIN)
    assert response.status_code == 200, response.text
    page = response.json()
    assert [(g["part"], g["upstream"]) for g in page["parts_missing"]] == [("evaluation", "evaluation")]
    [row] = page["data"]
    assert (row["pcn_code"], row["pcn_name"], row["allocated_pence"]) == ("U00001", "PCN U00001", 10_000_000)
    assert row["posts_in_post"] is None and row["readiness_percent_in_place"] is None
    async with await client_of(make_gateway(down="budget")) as gw:
        response = await gw.get("/v1/scorecards", params={"icb_code": "QHM", **AS_OF}, headers=ADMIN)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"


async def test_a_stalled_service_costs_its_parts_not_the_card(make_gateway: Callable[..., Gateway]) -> None:
    async with await client_of(make_gateway()) as gw:
        await setup_register(gw)
    async with await client_of(make_gateway(stalled_service="evaluation")) as gw:
        card = (await gw.get("/v1/scorecards/U00001", params=AS_OF, headers=ADMIN)).json()
    assert {g["part"] for g in card["parts_missing"]} == set(EVALUATION)
    assert all("in time" in g["reason"] for g in card["parts_missing"])
    assert card["budget"] is not None and card["posts_by_role"] is not None
