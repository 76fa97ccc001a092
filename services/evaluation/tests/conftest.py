"""Fixtures of the evaluation service's tests: the service on a fresh database of each backend, in front
of a real budget service (with its own real roles service) in this process.

The budget service is the upstream: it is read, never written, by the evaluation service, so one
register (SQLite) with its posts is built once per session and shared. The evaluation database is
the test's own, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ADMIN, BACKENDS, DatabaseFactory, GatewaySigner, asgi_client
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app as create_budget
from evaluation.clients.budget import BudgetClient
from evaluation.clients.roles import RolesClient
from evaluation.config import EvaluationSettings
from evaluation.main import create_app
from roles.config import RolesSettings
from roles.main import create_app as create_roles

ICB = Principal(kind="icb", client_id="t-icb", org_codes=("QHM",), name="QHM digital team")
OTHER_ICB = Principal(kind="icb", client_id="t-icb-2", org_codes=("QOX",), name="QOX digital team")
PCN = Principal(kind="pcn", client_id="t-pcn", org_codes=("U00001",), name="Riverside PCN manager")
OTHER_PCN = Principal(kind="pcn", client_id="t-pcn-3", org_codes=("U00003",), name="Downs PCN manager")
PRACTICE = Principal(kind="practice_system", client_id="t-ps", org_codes=("A81001",), name="EMIS feed")
DASHBOARD = Principal(kind="dashboard", client_id="t-dash", org_codes=("QHM",), name="QHM dashboard")

ICBS = [{"code": "QHM", "name": "North East and North Cumbria"}, {"code": "QOX", "name": "Bath and Wiltshire"}]
PCNS = [
    {"code": "U00001", "name": "Riverside PCN", "icb_code": "QHM", "practice_codes": ["A81001", "A81002"]},
    {"code": "U00002", "name": "Hillside PCN", "icb_code": "QHM", "practice_codes": ["A81003"]},
    {"code": "U00003", "name": "Downs PCN", "icb_code": "QOX", "practice_codes": ["B82001"]},
]
BASE_POST: dict[str, Any] = {
    "pcn_code": "U00001",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A81001",
    "practice_codes": ["A81001", "A81002"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Clinical pharmacist 1",
}
# The register's posts, by id: what each test may rely on.
POSTS: list[dict[str, Any]] = [
    BASE_POST,  # 1: U00001, named supervisor
    {
        **BASE_POST,
        "role_code": "first_contact_physiotherapist",
        "afc_band": "7",
        "practice_codes": ["A81001"],
        "supervisor": {"name": "TBC", "role": "GP partner"},
        "display_name": "FCP 1",
    },  # 2: U00001, supervisor not named
    {**BASE_POST, "leave_date": "2024-09-30", "display_name": "Pharmacist who left"},  # 3: U00001, left
    {
        **BASE_POST,
        "pcn_code": "U00003",
        "employer_code": "B82001",
        "practice_codes": ["B82001"],
        "display_name": "Downs pharmacist",
    },  # 4: another ICB's PCN
]


def load_register(budget: TestClient) -> None:
    """The register above, through a budget service's API as the admin: ICBs, PCNs, then posts 1 to 4."""
    signer = GatewaySigner(ADMIN)
    for path, bodies in (("/v1/icbs", ICBS), ("/v1/pcns", [{**p, "list_size": 30_000} for p in PCNS])):
        for body in bodies:
            assert budget.post(path, json=body, auth=signer).status_code == 201
    for number, body in enumerate(POSTS, start=1):
        created = budget.post("/v1/posts", json=body, auth=signer)
        assert created.status_code == 201 and created.json()["id"] == number, created.text


def replica(url: str, roles: TestClient, budget: TestClient, *, entries: int) -> FastAPI:
    """An evaluation service on ``url`` keeping up to ``entries`` analyses, reading the budget service
    afresh on every request (no TTL), as a second replica of the same database would."""
    return create_app(
        EvaluationSettings(database_url=url, analysis_cache_entries=entries),
        configure_logs=False,
        budget=BudgetClient(budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0),
        roles=RolesClient(roles, gateway_secret=DEV_GATEWAY_SECRET),
    )


@pytest.fixture(scope="session")
def upstreams(database_factory: DatabaseFactory) -> Iterator[tuple[TestClient, TestClient]]:
    """A real roles service and a real budget service (both SQLite), with the register above."""
    roles_url = database_factory.create("roles", "sqlite", lambda u: migrate.upgrade("roles", u))
    budget_url = database_factory.create("budget", "sqlite", lambda u: migrate.upgrade("budget", u))
    roles_app = create_roles(RolesSettings(database_url=roles_url), configure_logs=False)
    with TestClient(roles_app, base_url="http://roles") as roles:
        catalogue = RoleCatalogue(roles, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=3600)
        budget_app = create_budget(BudgetSettings(database_url=budget_url), configure_logs=False, catalogue=catalogue)
        with TestClient(budget_app, base_url="http://budget") as budget:
            load_register(budget)
            yield roles, budget


@pytest.fixture
def own_budget(upstreams: tuple[TestClient, TestClient], database_factory: DatabaseFactory) -> Iterator[TestClient]:
    """A budget service of the test's own (to write to), with the shared register's ICBs, PCNs and posts."""
    roles, _shared = upstreams
    url = database_factory.create("budget", "sqlite", lambda u: migrate.upgrade("budget", u))
    catalogue = RoleCatalogue(roles, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=3600)
    app = create_budget(BudgetSettings(database_url=url), configure_logs=False, catalogue=catalogue)
    with TestClient(app, base_url="http://budget") as client:
        load_register(client)
        yield client


@pytest.fixture(params=BACKENDS)
def evaluation_url(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.create("evaluation", request.param, lambda u: migrate.upgrade("evaluation", u))
    yield url
    database_factory.drop(url)


@pytest.fixture
def evaluation_app(evaluation_url: str, upstreams: tuple[TestClient, TestClient]) -> FastAPI:
    roles, budget = upstreams
    return create_app(
        EvaluationSettings(database_url=evaluation_url),
        configure_logs=False,
        budget=BudgetClient(budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0),
        roles=RolesClient(roles, gateway_secret=DEV_GATEWAY_SECRET),
    )


@pytest.fixture
async def as_pcn(evaluation_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """PCN U00001 (posts 1, 2 and 3)."""
    async with asgi_client(evaluation_app, principal=PCN) as client:
        yield client


@pytest.fixture
async def as_admin(evaluation_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(evaluation_app, principal=ADMIN) as client:
        yield client


class Who:
    """The principals of the tests, as a fixture (a conftest is not importable as a module)."""

    ADMIN = ADMIN
    ICB = ICB
    OTHER_ICB = OTHER_ICB
    PCN = PCN
    OTHER_PCN = OTHER_PCN
    PRACTICE = PRACTICE
    DASHBOARD = DASHBOARD


@pytest.fixture
def who() -> type[Who]:
    return Who


@pytest.fixture
def client_as(evaluation_app: FastAPI) -> Any:
    """``client_as(principal)``: an in-process client of the same app signed as ``principal``."""

    def make(principal: Principal) -> Any:
        return asgi_client(evaluation_app, principal=principal)

    return make
