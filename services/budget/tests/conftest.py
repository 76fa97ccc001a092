from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, BACKENDS, DatabaseFactory, asgi_client
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app
from budget.repository import ledger as ledger_repo
from roles.config import RolesSettings
from roles.main import create_app as create_roles_app

# Clients as the gateway forwards them: an internal id (a login name at the token endpoint, never
# recorded) and a display name (what records show as who changed them).
ICB = Principal(kind="icb", client_id="test-icb-qhm", org_codes=("QHM",), name="QHM digital team")
OTHER_ICB = Principal(kind="icb", client_id="test-icb-qox", org_codes=("QOX",), name="QOX digital team")
PCN = Principal(kind="pcn", client_id="test-pcn", org_codes=("U00001",), name="Riverside PCN manager")
OTHER_PCN = Principal(kind="pcn", client_id="test-pcn-other", org_codes=("U00003",), name="Downs PCN manager")
PRACTICE = Principal(kind="practice_system", client_id="test-practice", org_codes=("A81001",), name="A81001 feed")
DASHBOARD = Principal(kind="dashboard", client_id="test-dashboard-qhm", org_codes=("QHM",), name="QHM dashboard")
NATIONAL = Principal(kind="dashboard", client_id="test-dashboard-national", name="National dashboard")

ICBS = [{"code": "QHM", "name": "North East and North Cumbria"}, {"code": "QOX", "name": "Bath and Wiltshire"}]
PCNS = [
    {"code": "U00001", "name": "Riverside PCN", "icb_code": "QHM", "practice_codes": ["A81001", "A81002"]},
    {"code": "U00002", "name": "Hillside PCN", "icb_code": "QHM", "practice_codes": ["A81003"]},
    {"code": "U00003", "name": "Downs PCN", "icb_code": "QOX", "practice_codes": ["B82001", "B82002"]},
]


def _prepare(url: str) -> None:
    migrate.upgrade("budget", url)


async def _create_register(admin: httpx.AsyncClient) -> None:
    """Two ICBs and three PCNs (``ICBS``, ``PCNS``), all from 1 April 2024, created by ``admin``
    through the API."""
    for icb_body in ICBS:
        assert (await admin.post("/v1/icbs", json=icb_body)).status_code == 201
    for pcn_body in PCNS:
        body = {**pcn_body, "list_size": 50_000, "effective_date": "2024-04-01"}
        response = await admin.post("/v1/pcns", json=body)
        assert response.status_code == 201, response.text


def _prepare_registered(url: str, catalogue: RoleCatalogue) -> None:
    """The ``budget_register`` template: migrated, then the register created once by the admin
    through a real app of its own, stopped afterwards (a PostgreSQL template must have no
    connections; a SQLite one must have its write-ahead log checkpointed into the file copied)."""
    _prepare(url)

    async def create() -> None:
        app = create_app(BudgetSettings(database_url=url), configure_logs=False, catalogue=catalogue)
        async with asgi_client(app, principal=ADMIN) as admin:
            await _create_register(admin)

    # A thread and event loop of its own: the test's loop (pytest-asyncio) is left alone.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create()).result()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = str(parsed.database)
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = Path(f"{path}-wal")
        assert not wal.exists() or wal.stat().st_size == 0, f"{wal} holds writes a copy of {path} would miss"


@pytest.fixture(scope="session")
def registered_databases() -> set[str]:
    """The URLs of the budget databases cloned from the ``budget_register`` template."""
    return set()


@pytest.fixture(params=BACKENDS)
def budget_db_url(
    request: pytest.FixtureRequest, database_factory: DatabaseFactory, registered_databases: set[str]
) -> object:
    """The test's own budget database: a clone of the migrated template, or, when the test asks for
    ``register`` (directly or through another fixture), of the template that also holds the
    register (``_prepare_registered``)."""
    if "register" in request.fixturenames:

        def prepare(url: str) -> None:
            shared: TestClient = request.getfixturevalue("shared_roles_client")
            _prepare_registered(url, RoleCatalogue(shared, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=3600))

        url = database_factory.create("budget_register", request.param, prepare)
        registered_databases.add(url)
    else:
        url = database_factory.create("budget", request.param, _prepare)
    yield url
    database_factory.drop(url)


def _roles_app(database_factory: DatabaseFactory) -> tuple[FastAPI, str]:
    url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    return create_roles_app(RolesSettings(database_url=url), configure_logs=False), url


@pytest.fixture(scope="session")
def shared_roles_client(database_factory: DatabaseFactory) -> Iterator[TestClient]:
    """The real roles service with its seeded catalogue (SQLite) in this process, for the tests that
    only read it."""
    app, _url = _roles_app(database_factory)
    with TestClient(app, base_url="http://roles") as client:
        yield client


@pytest.fixture
def roles_client(database_factory: DatabaseFactory) -> Iterator[TestClient]:
    """A roles service of the test's own (a fresh copy of the seeded catalogue), for a test that adds
    rate periods; requests to it are signed per request (``auth=GatewaySigner()``)."""
    app, url = _roles_app(database_factory)
    with TestClient(app, base_url="http://roles") as client:
        yield client
    database_factory.drop(url)


@pytest.fixture
def roles_catalogue(request: pytest.FixtureRequest) -> RoleCatalogue:
    """The budget service's own typed client of the roles service: the test's own when it asks for
    ``roles_client``, otherwise the shared one."""
    name = "roles_client" if "roles_client" in request.fixturenames else "shared_roles_client"
    client: TestClient = request.getfixturevalue(name)
    return RoleCatalogue(client, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=3600)


@pytest.fixture
def budget_app(budget_db_url: str, roles_catalogue: RoleCatalogue) -> FastAPI:
    return create_app(BudgetSettings(database_url=budget_db_url), configure_logs=False, catalogue=roles_catalogue)


@pytest.fixture
async def admin(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(budget_app, principal=ADMIN) as client:
        yield client


@pytest.fixture
async def icb(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The digital team of ICB QHM (PCNs U00001 and U00002)."""
    async with asgi_client(budget_app, principal=ICB) as client:
        yield client


@pytest.fixture
async def other_icb(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The digital team of ICB QOX (PCN U00003)."""
    async with asgi_client(budget_app, principal=OTHER_ICB) as client:
        yield client


@pytest.fixture
async def pcn(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """PCN U00001 (practices A81001 and A81002, ICB QHM)."""
    async with asgi_client(budget_app, principal=PCN) as client:
        yield client


@pytest.fixture
async def other_pcn(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """PCN U00003 (ICB QOX)."""
    async with asgi_client(budget_app, principal=OTHER_PCN) as client:
        yield client


@pytest.fixture
async def practice(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A practice system bound to practice A81001."""
    async with asgi_client(budget_app, principal=PRACTICE) as client:
        yield client


@pytest.fixture
async def dashboard(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A dashboard bound to ICB QHM."""
    async with asgi_client(budget_app, principal=DASHBOARD) as client:
        yield client


@pytest.fixture
async def national(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A national dashboard (no org codes)."""
    async with asgi_client(budget_app, principal=NATIONAL) as client:
        yield client


@pytest.fixture
async def anonymous(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(budget_app, principal=None) as client:
        yield client


@pytest.fixture
async def register(admin: httpx.AsyncClient, budget_db_url: str, registered_databases: set[str]) -> None:
    """Two ICBs and three PCNs (U00001 and U00002 in QHM, U00003 in QOX), all from 1 April 2024,
    created by the admin through the API. Done once per backend, in the template the test's
    database is cloned from (``budget_db_url``); here only for a database made otherwise."""
    if budget_db_url not in registered_databases:
        await _create_register(admin)


@pytest.fixture
def ledger_verified(budget_db_url: str) -> Iterator[None]:
    """After the test, whatever it did: every pot's balances recomputed from its postings must equal
    the maintained balance rows (``ledger_repo.verify_ledger``)."""
    yield
    engine = create_engine(budget_db_url)
    try:
        with Session(engine) as session:
            assert ledger_repo.verify_ledger(session) == []
    finally:
        engine.dispose()
