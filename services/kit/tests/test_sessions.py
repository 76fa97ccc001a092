"""A request's database sessions are closed once it has answered, whatever happened in it: no
connection stays checked out, and a transaction left open is rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import text

from arrs_kit.app import create_service_app
from arrs_kit.db import Database, ReadSessionDep, WriteSessionDep
from arrs_kit.problems import ProblemError
from arrs_kit.settings import ServiceSettings
from arrs_kit.testing import postgres_server_url, require_postgres


class Refused(ProblemError):
    status, code, title = 409, "refused", "Refused"


router = APIRouter()
checked_out_during: list[int] = []


@router.get("/v1/open")
def left_open(session: ReadSessionDep) -> dict[str, int]:
    """A statement, and the transaction it began never ended by the route."""
    value = int(session.execute(text("SELECT 1")).scalar_one())
    checked_out_during.append(session.get_bind().pool.checkedout())  # type: ignore[union-attr]
    return {"one": value}


@router.post("/v1/fail")
def fail_mid_transaction(reader: ReadSessionDep, writer: WriteSessionDep) -> None:
    reader.execute(text("SELECT 1"))
    writer.execute(text("SELECT 2"))
    checked_out_during.append(writer.get_bind().pool.checkedout())  # type: ignore[union-attr]
    raise Refused("no")


@router.post("/v1/commit")
async def committed(writer: WriteSessionDep) -> dict[str, bool]:
    writer.execute(text("SELECT 1"))
    writer.commit()
    return {"in_transaction": writer.in_transaction()}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    if request.param == "postgresql":
        require_postgres()
        url = postgres_server_url()
    else:
        url = f"sqlite:///{tmp_path / 'sessions.db'}"
    app = create_service_app(
        name="kit-sessions", title="t", description="t", version="1",
        settings=ServiceSettings(database_url=url), routers=[router], configure_logs=False,
    )  # fmt: skip
    db: Database = app.state.db
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kit") as http:
        yield http, db
    db.dispose()


async def test_a_transaction_left_open_is_ended_and_its_connection_returned(
    client: tuple[httpx.AsyncClient, Database],
) -> None:
    http, db = client
    checked_out_during.clear()
    for _ in range(3):
        assert (await http.get("/v1/open")).json() == {"one": 1}
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert checked_out_during == [1, 1, 1]


async def test_a_route_that_fails_mid_transaction_returns_every_connection(
    client: tuple[httpx.AsyncClient, Database],
) -> None:
    http, db = client
    checked_out_during.clear()
    response = await http.post("/v1/fail")
    assert response.status_code == 409 and response.json()["type"] == "/problems/refused"
    assert checked_out_during == [2]  # the reader's and the writer's
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_committed_session_is_closed_without_a_worker_thread(
    client: tuple[httpx.AsyncClient, Database],
) -> None:
    http, db = client
    assert (await http.post("/v1/commit")).json() == {"in_transaction": False}
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
