from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arrs_kit import migrate
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import BACKENDS, DatabaseFactory
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app as create_budget
from evaluation.clients.budget import BudgetClient
from evaluation.clients.roles import RolesClient
from evaluation.config import EvaluationSettings
from evaluation.main import create_app as create_evaluation
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from roles.config import RolesSettings
from roles.main import create_app as create_roles

# NDJSON is text: generated strings go on the wire as they are (as text/csv does by default). Here, so
# that every schemathesis module can send it, run alone or together.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

SERVICES = ("roles", "budget", "evaluation")


def make_service(
    name: str,
    url: str,
    *,
    catalogue: RoleCatalogue | None = None,
    budget: BudgetClient | None = None,
    roles: RolesClient | None = None,
) -> FastAPI:
    """One service on ``url``; the budget service reads the role catalogue through ``catalogue``
    (see :func:`roles_catalogue`), the evaluation service the budget and roles services through
    ``budget`` and ``roles``."""
    if name == "roles":
        return create_roles(RolesSettings(database_url=url), configure_logs=False)
    if name == "budget":
        return create_budget(BudgetSettings(database_url=url), configure_logs=False, catalogue=catalogue)
    return create_evaluation(EvaluationSettings(database_url=url), configure_logs=False, budget=budget, roles=roles)


@contextmanager
def roles_catalogue(roles_url: str) -> Iterator[RoleCatalogue]:
    """The budget service's typed client of the roles service, over a real roles app on ``roles_url``
    in this process (as ``make run`` wires them over HTTP): claims read their rates through it."""
    settings = RolesSettings(database_url=roles_url)
    with TestClient(create_roles(settings, configure_logs=False), base_url="http://roles") as client:
        yield RoleCatalogue(client, gateway_secret=settings.gateway_secret.get_secret_value())


@contextmanager
def evaluation_upstreams(roles: RoleCatalogue, budget_app: FastAPI) -> Iterator[tuple[BudgetClient, RolesClient]]:
    """The evaluation service's clients of the budget service (``budget_app``, in this process) and of
    the roles service ``roles`` already reaches."""
    with TestClient(budget_app, base_url="http://budget") as budget:
        yield (
            BudgetClient(budget, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0),
            RolesClient(roles.client, gateway_secret=DEV_GATEWAY_SECRET),
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service_apps(database_factory: DatabaseFactory) -> object:
    """Every service on its own fresh SQLite database; the budget service reads the catalogue of
    this roles service."""
    urls = {name: database_factory.create(name, "sqlite", partial(migrate.upgrade, name)) for name in SERVICES}
    with roles_catalogue(urls["roles"]) as catalogue:
        apps = {name: make_service(name, urls[name], catalogue=catalogue) for name in ("roles", "budget")}
        with evaluation_upstreams(catalogue, apps["budget"]) as (budget, roles):
            apps["evaluation"] = make_service("evaluation", urls["evaluation"], budget=budget, roles=roles)
            yield apps
    for url in urls.values():
        database_factory.drop(url)


@pytest.fixture
def gateway_app(service_apps: dict[str, FastAPI], database_factory: DatabaseFactory) -> object:
    """The gateway (on its own fresh database) in front of the three services, all in-process."""
    url = database_factory.create("gateway", "sqlite", partial(migrate.upgrade, "gateway"))
    transports = {name: httpx.ASGITransport(app=app) for name, app in service_apps.items()}
    # Fuzzing and the access matrix send hundreds of requests a second, wrong credentials among them,
    # from one address: the failure throttle and the per-client rate limits (both tested on their own in
    # gateway/tests) would soon answer 429 to everything, so here they are out of reach.
    # Readiness checks get the time a loaded test machine needs; the timeout itself is tested in gateway/tests.
    settings = GatewaySettings(
        database_url=url,
        auth_failures_per_source=1_000_000,
        auth_failures_allowed=1_000_000,
        rate_limits={},
        readiness_timeout_s=30,
    )
    yield create_gateway(settings, transports=transports, configure_logs=False)
    database_factory.drop(url)
