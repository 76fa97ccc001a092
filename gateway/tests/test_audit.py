"""The audit log's writer: every event written once, in order, in few transactions under load, and
nothing held back when the gateway stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from gateway.audit import AuditLog
from gateway.config import GatewaySettings
from gateway.main import create_app

from .conftest import ADMIN_KEY, echo_app


def gateway(settings: GatewaySettings) -> Any:
    echo = httpx.ASGITransport(app=echo_app)
    return create_app(settings, transports={"roles": echo, "budget": echo, "evaluation": echo}, configure_logs=False)


async def test_concurrent_writes_are_each_audited_once_in_few_transactions(
    gateway_settings: Callable[..., GatewaySettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    insert = AuditLog._insert

    def counted(self: AuditLog, batch: list[dict[str, Any]]) -> None:
        batches.append(len(batch))
        insert(self, batch)

    monkeypatch.setattr(AuditLog, "_insert", counted)
    app = gateway(gateway_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/posts", json={"n": n}, headers={**ADMIN_KEY, "X-Correlation-ID": f"w{n}"})
                for n in range(60)
            )
        )
        events = (await client.get("/v1/audit-events", params={"limit": 100}, headers=ADMIN_KEY)).json()["data"]
    await app.aclose()
    assert all(answer.status_code == 200 for answer in answers)
    assert sorted(e["correlation_id"] for e in events) == sorted(f"w{n}" for n in range(60))
    assert sum(batches) == 60 and len(batches) < 60  # one transaction carried several events
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)  # newest first, as written


async def test_a_stopping_gateway_writes_every_event_it_holds(
    gateway_settings: Callable[..., GatewaySettings], gateway_db_url: str
) -> None:
    app = gateway(gateway_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        for n in range(5):
            assert (await client.delete(f"/v1/posts/{n}", headers=ADMIN_KEY)).status_code == 200
    await app.aclose()  # no read of the log first: stopping alone must write them
    engine = create_engine(gateway_db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT method, path, outcome FROM audit_event ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("DELETE", f"/v1/posts/{n}", "success") for n in range(5)]
