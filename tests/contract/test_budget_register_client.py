"""The evaluation service's typed, cached client of the organisation register, against the real
budget service: it reads as the caller, so the budget service's own scope rules decide who sees a
practice or a PCN."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, GatewaySigner
from evaluation.clients.budget import BudgetClient, BudgetUnavailable, Pcn, Practice


def seed(budget: TestClient) -> None:
    admin = GatewaySigner(ADMIN)
    assert budget.post("/v1/icbs", json={"code": "QHM", "name": "North East"}, auth=admin).status_code == 201
    body = {"code": "U00001", "name": "P", "icb_code": "QHM", "practice_codes": ["A00001"], "list_size": 9000}
    assert budget.post("/v1/pcns", json=body, auth=admin).status_code == 201


def test_register_reads_cache_and_check_scope(service_apps: dict[str, FastAPI]) -> None:
    # The budget app is already started (the evaluation app's own client holds it open).
    budget = TestClient(service_apps["budget"], base_url="http://budget")
    seed(budget)
    sent: list[httpx.Request] = []
    budget.event_hooks = {"request": [sent.append], "response": []}
    orgs = BudgetClient(budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=60)
    assert orgs.practice(ADMIN, "a00001") == Practice(code="A00001", pcn_code="U00001", icb_code="QHM")
    assert orgs.pcn(ADMIN, "U00001") == Pcn(code="U00001", name="P", icb_code="QHM", practice_codes=("A00001",))
    assert orgs.practice(ADMIN, "Z99999") is None
    calls = len(sent)
    orgs.practice(ADMIN, "A00001")
    orgs.practice(ADMIN, "Z99999")
    assert len(sent) == calls  # answered from the cache, unknowns included

    def who(kind: str, *codes: str) -> Principal:
        return Principal(kind=kind, client_id=kind, org_codes=codes)

    def can_read_practice(principal: Principal, code: str) -> bool:
        return orgs.practice(principal, code) is not None

    def can_read_pcn(principal: Principal, code: str) -> bool:
        return orgs.pcn(principal, code) is not None

    assert can_read_practice(who("practice_system", "A00001"), "A00001")
    assert not can_read_practice(who("practice_system", "B00001"), "A00001")
    assert can_read_practice(who("pcn", "U00001"), "A00001")
    assert not can_read_practice(who("pcn", "U00002"), "A00001")
    assert can_read_practice(who("icb", "QHM"), "A00001")
    assert not can_read_practice(who("icb", "QOX"), "A00001")
    assert can_read_practice(who("dashboard"), "A00001")
    assert not can_read_practice(who("icb", "QHM"), "Z99999")
    assert can_read_pcn(who("dashboard", "QHM"), "U00001")
    assert not can_read_pcn(who("dashboard", "QOX"), "U00001")


def test_an_unreachable_register_is_503_never_a_guess() -> None:
    orgs = BudgetClient.over_http("http://127.0.0.1:9", gateway_secret=DEV_GATEWAY_SECRET, ttl_s=60, timeout_s=1)
    try:
        with pytest.raises(BudgetUnavailable) as raised:
            orgs.practice(ADMIN, "A00001")
        assert raised.value.status == 503
    finally:
        orgs.close()
