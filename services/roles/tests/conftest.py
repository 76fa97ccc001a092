from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.testing import ADMIN, BACKENDS, DatabaseFactory, asgi_client
from roles.config import RolesSettings
from roles.main import create_app

PCN = Principal(kind="pcn", client_id="test-pcn", org_codes=("U12345",))


def _prepare(url: str) -> None:
    migrate.upgrade("roles", url)


@pytest.fixture(params=BACKENDS)
def roles_db_url(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> object:
    url = database_factory.create("roles", request.param, _prepare)
    yield url
    database_factory.drop(url)


@pytest.fixture
def roles_app(roles_db_url: str) -> FastAPI:
    return create_app(RolesSettings(database_url=roles_db_url), configure_logs=False)


@pytest.fixture
async def admin(roles_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(roles_app, principal=ADMIN) as client:
        yield client


@pytest.fixture
async def pcn(roles_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(roles_app, principal=PCN) as client:
        yield client


@pytest.fixture
async def anonymous(roles_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(roles_app) as client:
        yield client
