"""The kit's typed, cached client of the organisation register, against the real budget service."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit.orgs import OrgDirectory, OrgRegisterUnavailable, Pcn, Practice
from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, asgi_client


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)


async def seed(budget: FastAPI) -> None:
    async with asgi_client(budget, principal=ADMIN) as admin:
        assert (await admin.post("/v1/icbs", json={"code": "QHM", "name": "North East"})).status_code == 201
        body = {"code": "U00001", "name": "P", "icb_code": "QHM", "practice_codes": ["A00001"], "list_size": 9000}
        assert (await admin.post("/v1/pcns", json=body)).status_code == 201


async def test_directory_reads_caches_and_checks_scope(service_apps: dict[str, FastAPI]) -> None:
    budget = service_apps["budget"]
    await seed(budget)
    transport = CountingTransport(httpx.ASGITransport(app=budget))
    orgs = OrgDirectory(
        "http://budget", gateway_secret=DEV_GATEWAY_SECRET, service_name="evaluation", transport=transport
    )
    try:
        assert await orgs.practice("a00001") == Practice(code="A00001", pcn_code="U00001", icb_code="QHM")
        assert await orgs.pcn("U00001") == Pcn(code="U00001", icb_code="QHM", practice_codes=("A00001",))
        assert await orgs.practice("Z99999") is None
        calls = transport.calls
        await orgs.practice("A00001")
        await orgs.practice("Z99999")
        assert transport.calls == calls  # answered from the cache, unknowns included

        def who(kind: str, *codes: str) -> Principal:
            return Principal(kind=kind, client_id=kind, org_codes=codes)

        assert await orgs.can_read_practice(who("practice_system", "A00001"), "A00001")
        assert not await orgs.can_read_practice(who("practice_system", "B00001"), "A00001")
        assert await orgs.can_read_practice(who("pcn", "U00001"), "A00001")
        assert not await orgs.can_read_practice(who("pcn", "U00002"), "A00001")
        assert await orgs.can_read_practice(who("icb", "QHM"), "A00001")
        assert not await orgs.can_read_practice(who("icb", "QOX"), "A00001")
        assert await orgs.can_read_practice(who("dashboard"), "A00001")
        assert not await orgs.can_read_practice(who("icb", "QHM"), "Z99999")
        assert await orgs.can_read_pcn(who("dashboard", "QHM"), "U00001")
        assert not await orgs.can_read_pcn(who("dashboard", "QOX"), "U00001")
    finally:
        await orgs.aclose()


async def test_an_unreachable_register_is_503_never_a_guess() -> None:
    orgs = OrgDirectory("http://127.0.0.1:9", gateway_secret=DEV_GATEWAY_SECRET, service_name="evaluation", timeout_s=1)
    try:
        with pytest.raises(OrgRegisterUnavailable) as raised:
            await orgs.practice("A00001")
        assert raised.value.status == 503
    finally:
        await orgs.aclose()
