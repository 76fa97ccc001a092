from __future__ import annotations

from functools import partial

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit import migrate
from arrs_kit.testing import BACKENDS, DatabaseFactory
from budget.config import BudgetSettings
from budget.main import create_app as create_budget
from evaluation.config import EvaluationSettings
from evaluation.main import create_app as create_evaluation
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from roles.config import RolesSettings
from roles.main import create_app as create_roles

SERVICES = ("roles", "budget", "evaluation")


def make_service(name: str, url: str) -> FastAPI:
    if name == "roles":
        return create_roles(RolesSettings(database_url=url), configure_logs=False)
    if name == "budget":
        return create_budget(BudgetSettings(database_url=url), configure_logs=False)
    return create_evaluation(EvaluationSettings(database_url=url), configure_logs=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service_apps(database_factory: DatabaseFactory) -> object:
    """Every service on its own fresh SQLite database."""
    urls = {name: database_factory.create(name, "sqlite", partial(migrate.upgrade, name)) for name in SERVICES}
    yield {name: make_service(name, url) for name, url in urls.items()}
    for url in urls.values():
        database_factory.drop(url)


@pytest.fixture
def gateway_app(service_apps: dict[str, FastAPI], database_factory: DatabaseFactory) -> object:
    """The gateway (on its own fresh database) in front of the three services, all in-process."""
    url = database_factory.create("gateway", "sqlite", partial(migrate.upgrade, "gateway"))
    transports = {name: httpx.ASGITransport(app=app) for name, app in service_apps.items()}
    yield create_gateway(GatewaySettings(database_url=url), transports=transports, configure_logs=False)
    database_factory.drop(url)
