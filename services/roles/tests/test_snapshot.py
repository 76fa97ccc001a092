"""The rates read from the replica's in-memory snapshot: no query while it is fresh, a change through
this replica at once, one through another replica (or plain SQL) within the check interval."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, event, text

from arrs_kit.testing import ADMIN, asgi_client
from roles.config import RolesSettings
from roles.main import create_app
from roles.snapshot import Catalogue

PERIOD = {
    "geography": "national",
    "effective_from": "2026-04-01",
    "annual_max_pence": 6_900_000,
    "provenance": "published",
    "source": "Network Contract DES 2026/27, Table 2",
}
ON: dict[str, str | int] = {"on": "2026-05-01", "geography": "national", "limit": 500}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


def pharmacist(page: dict[str, Any]) -> int:
    (rate,) = [r for r in page["data"] if r["role_code"] == "clinical_pharmacist"]
    amount: int = rate["annual_max_pence"]
    return amount


def replica(url: str, clock: Clock) -> FastAPI:
    app = create_app(RolesSettings(database_url=url), configure_logs=False)
    app.state.catalogue = Catalogue(app.state.db.engine, check_s=1.0, clock=clock)
    return app


async def test_a_fresh_snapshot_answers_without_a_query_and_the_same_bytes(roles_db_url: str) -> None:
    app = replica(roles_db_url, Clock())
    seen = statements(app.state.db.engine)
    async with asgi_client(app, principal=ADMIN) as client:
        first = await client.get("/v1/rates", params=ON)
        loaded = len(seen)
        again = await client.get("/v1/rates", params=ON)
        other_day = await client.get("/v1/rates", params={**ON, "on": "2022-05-01"})
    assert first.status_code == again.status_code == other_day.status_code == 200
    assert loaded >= 1  # the stamp and the snapshot, once
    assert len(seen) == loaded  # then nothing: not the stamp, not a rate period
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert other_day.content != first.content


async def test_a_change_through_this_replica_is_read_at_once(roles_db_url: str) -> None:
    app = replica(roles_db_url, Clock())  # the clock never moves: only the commit makes it check
    async with asgi_client(app, principal=ADMIN) as client:
        before = pharmacist((await client.get("/v1/rates", params=ON)).json())
        assert (await client.post("/v1/roles/clinical_pharmacist/rates", json=PERIOD)).status_code == 201
        after = pharmacist((await client.get("/v1/rates", params=ON)).json())
    assert before != 6_900_000 and after == 6_900_000


async def test_another_replicas_change_is_served_within_the_check_interval(roles_db_url: str) -> None:
    clock = Clock()
    writer, reader = replica(roles_db_url, Clock()), replica(roles_db_url, clock)
    async with asgi_client(writer, principal=ADMIN) as write, asgi_client(reader, principal=ADMIN) as read:
        before = pharmacist((await read.get("/v1/rates", params=ON)).json())
        assert (await write.post("/v1/roles/clinical_pharmacist/rates", json=PERIOD)).status_code == 201
        clock.now += 0.5
        stale = pharmacist((await read.get("/v1/rates", params=ON)).json())
        clock.now += 0.6  # past the interval: the stamp moved, the snapshot is loaded again
        fresh = pharmacist((await read.get("/v1/rates", params=ON)).json())
    assert stale == before != 6_900_000
    assert fresh == 6_900_000


async def test_a_change_made_in_sql_moves_the_stamp_too(roles_db_url: str) -> None:
    clock = Clock()
    app = replica(roles_db_url, clock)
    async with asgi_client(app, principal=ADMIN) as client:
        first = await client.get("/v1/rates", params=ON)
        engine = create_engine(roles_db_url)
        try:
            with engine.begin() as conn:  # an operator's correction, outside the service
                conn.execute(
                    text("UPDATE role SET name = 'Clinical pharmacist (renamed)' WHERE code = 'clinical_pharmacist'")
                )
        finally:
            engine.dispose()
        clock.now += 1.5
        renamed = await client.get("/v1/rates", params=ON)
    (row,) = [r for r in renamed.json()["data"] if r["role_code"] == "clinical_pharmacist"]
    assert row["role_name"] == "Clinical pharmacist (renamed)"
    assert renamed.headers["etag"] != first.headers["etag"]


async def test_the_snapshot_answers_as_the_database_would(roles_db_url: str) -> None:
    """Every role, geography and band on a day, from the snapshot, against a query of the database."""
    app = replica(roles_db_url, Clock())
    async with asgi_client(app, principal=ADMIN) as client:
        page = (await client.get("/v1/rates", params={"on": "2025-10-01", "limit": 500})).json()
    engine = create_engine(roles_db_url)
    try:
        with engine.connect() as conn:
            expected = conn.execute(
                text(
                    "SELECT p.role_code, p.geography, COALESCE(p.afc_band, ''), p.annual_max_pence FROM rate_period p "
                    "WHERE p.effective_from <= '2025-10-01' AND NOT EXISTS "
                    "(SELECT 1 FROM rate_period s WHERE s.supersedes_id = p.id) AND p.effective_from = "
                    "(SELECT MAX(q.effective_from) FROM rate_period q WHERE q.role_code = p.role_code AND "
                    "q.geography = p.geography AND COALESCE(q.afc_band, '') = COALESCE(p.afc_band, '') AND "
                    "q.effective_from <= '2025-10-01' AND NOT EXISTS "
                    "(SELECT 1 FROM rate_period s2 WHERE s2.supersedes_id = q.id))"
                )
            ).all()
    finally:
        engine.dispose()
    served = {(r["role_code"], r["geography"], r["afc_band"] or "", r["annual_max_pence"]) for r in page["data"]}
    assert page["next_cursor"] is None
    assert served == {tuple(row) for row in expected}
    assert len(served) > 50


async def test_every_catalogue_read_is_served_from_memory_once_made(roles_db_url: str) -> None:
    app = replica(roles_db_url, Clock())
    seen = statements(app.state.db.engine)
    reads: list[tuple[str, dict[str, str | int]]] = [
        ("/v1/roles", {"limit": 50}),
        ("/v1/roles/clinical_pharmacist", {}),
        ("/v1/roles/clinical_pharmacist/job-plan-template", {}),
        ("/v1/rates/gaps", {"fy": "2024-25"}),
        ("/v1/rates", ON),
    ]
    async with asgi_client(app, principal=ADMIN) as client:
        first = [await client.get(path, params=params) for path, params in reads]
        made = len(seen)
        again = [await client.get(path, params=params) for path, params in reads]
        after_again = len(seen)
        missing = await client.get("/v1/roles/no_such_role")
    assert [r.status_code for r in first] == [200] * len(reads)
    assert made >= len(reads)  # each answer made once, from the database
    assert [r.content for r in again] == [r.content for r in first]
    assert [r.headers["etag"] for r in again] == [r.headers["etag"] for r in first]
    assert after_again == made  # no statement at all for the second round
    assert missing.status_code == 404 and len(seen) > made  # an unknown role is looked up, and never kept


async def test_a_role_read_follows_another_replicas_change_within_the_interval(roles_db_url: str) -> None:
    clock = Clock()
    writer, reader = replica(roles_db_url, Clock()), replica(roles_db_url, clock)
    async with asgi_client(writer, principal=ADMIN) as write, asgi_client(reader, principal=ADMIN) as read:
        before = await read.get("/v1/roles/clinical_pharmacist")
        assert (await write.post("/v1/roles/clinical_pharmacist/rates", json=PERIOD)).status_code == 201
        stale = await read.get("/v1/roles/clinical_pharmacist")
        clock.now += 1.5
        fresh = await read.get("/v1/roles/clinical_pharmacist")
    assert stale.headers["etag"] == before.headers["etag"]
    assert fresh.headers["etag"] != before.headers["etag"]
    assert 6_900_000 in [p["annual_max_pence"] for p in fresh.json()["rate_periods"]]
