"""Test helpers shared by every app: real databases (SQLite and PostgreSQL) and in-process clients.

PostgreSQL tests need a server (``ARRS_TEST_POSTGRES_URL``, default the local one with trust auth).
On a laptop without one they are skipped with the reason; with ``CI=true`` a missing server fails
the run. Each test gets its own database cloned from a migrated template (``CREATE DATABASE …
TEMPLATE`` on PostgreSQL, a file copy on SQLite), so tests never share state and never mock it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrs_kit.principal import Principal, PrincipalAuth, principal_headers
from arrs_kit.settings import DEV_GATEWAY_SECRET, normalise_database_url

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

ADMIN = Principal(kind="admin", client_id="test-admin")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def postgres_server_url() -> str:
    return normalise_database_url(
        os.environ.get("ARRS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )


@cache
def postgres_unavailable_reason() -> str | None:
    """None when the test PostgreSQL server answers, else why not."""
    url = postgres_server_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means no server
        return f"PostgreSQL not reachable at {make_url(url).render_as_string(hide_password=True)}: {type(exc).__name__}"
    return None


def require_postgres() -> None:
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true makes the PostgreSQL tests mandatory)", pytrace=False)
    pytest.skip(f"{reason}; set ARRS_TEST_POSTGRES_URL or start PostgreSQL to run these tests")


def _admin_engine() -> Engine:
    return create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT")


class DatabaseFactory:
    """Migrated template databases, cloned once per test."""

    _counter = itertools.count()

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.templates: dict[tuple[str, str], str] = {}
        self.created_pg: list[str] = []
        self.run_id = f"{os.getpid()}"

    def _template(self, name: str, backend: str, prepare: Callable[[str], None]) -> str:
        key = (name, backend)
        if key not in self.templates:
            if backend == "sqlite":
                path = self.tmp_dir / f"template_{name}.db"
                path.touch()  # an empty file is an empty SQLite database
                url = f"sqlite:///{path}"
                prepare(url)
                self.templates[key] = str(path)
            else:
                db_name = f"arrs_tmpl_{name}_{self.run_id}"
                self._create_pg(db_name)
                prepare(self._pg_url(db_name))
                self.templates[key] = db_name
        return self.templates[key]

    def _pg_url(self, db_name: str) -> str:
        return make_url(postgres_server_url()).set(database=db_name).render_as_string(hide_password=False)

    def _create_pg(self, db_name: str, template: str | None = None) -> None:
        engine = _admin_engine()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
                suffix = f' TEMPLATE "{template}"' if template else ""
                conn.execute(text(f'CREATE DATABASE "{db_name}"{suffix}'))
        finally:
            engine.dispose()
        self.created_pg.append(db_name)

    def create(self, name: str, backend: str, prepare: Callable[[str], None]) -> str:
        """A fresh database for one test, migrated by ``prepare``; answers its URL."""
        if backend == "postgresql":
            require_postgres()
        template = self._template(name, backend, prepare)
        n = next(self._counter)
        if backend == "sqlite":
            path = self.tmp_dir / f"{name}_{n}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        db_name = f"arrs_test_{name}_{self.run_id}_{n}"
        self._create_pg(db_name, template=template)
        return self._pg_url(db_name)

    def drop(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            return
        self._drop_pg(str(parsed.database))

    def _drop_pg(self, db_name: str) -> None:
        engine = _admin_engine()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        finally:
            engine.dispose()

    def close(self) -> None:
        if not self.created_pg:
            return
        for db_name in self.created_pg:
            with contextlib.suppress(Exception):  # best effort at session end
                self._drop_pg(db_name)


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> object:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (mandatory when CI=true)")


def pytest_report_header(config: pytest.Config) -> str:
    reason = postgres_unavailable_reason()
    if reason is None:
        return f"postgresql: {make_url(postgres_server_url()).render_as_string(hide_password=True)} (tests enabled)"
    mode = "CI=true: PostgreSQL tests will FAIL" if in_ci() else "PostgreSQL tests will be skipped"
    return f"postgresql: {reason} ({mode})"


class ManualClock:
    """A monotonic clock a test moves by hand (``clock.now += 31``), for code that takes ``clock=``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def signed_headers(
    principal: Principal = ADMIN,
    *,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    request_id: str = "",
    secret: str = DEV_GATEWAY_SECRET,
) -> dict[str, str]:
    """The headers the gateway would add for ``principal`` on one request (good once)."""
    return principal_headers(
        principal,
        secret,
        method=method,
        path=path,
        query=query,
        body_digest=hashlib.sha256(body).digest(),
        request_id=request_id,
    )


class GatewaySigner(PrincipalAuth):
    """Signs every request as the gateway would, for calling a service directly in tests."""

    def __init__(self, principal: Principal = ADMIN, secret: str = DEV_GATEWAY_SECRET) -> None:
        super().__init__(principal, secret)


def signing_app(app: ASGIApp, principal: Principal = ADMIN, secret: str = DEV_GATEWAY_SECRET) -> ASGIApp:
    """``app`` behind a stand-in for the gateway's signing: every HTTP request reaches it signed as
    ``principal`` for its exact method, path, query and body (for tools that drive an ASGI app
    themselves, such as schemathesis)."""

    async def signed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(chunks)
        request_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        headers = signed_headers(
            principal,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            body=body,
            request_id=request_id,
            secret=secret,
        )
        names = {name.encode() for name in headers}
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in names] + [
            (k.encode(), v.encode("latin-1")) for k, v in headers.items()
        ]
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app(scope, replay, send)

    return signed


@asynccontextmanager
async def asgi_client(app: FastAPI, *, principal: Principal | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client that runs the app's lifespan around the requests, signed as ``principal``."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        auth = GatewaySigner(principal) if principal is not None else None
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", auth=auth) as client:
            yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is the RFC 9457 problem ``code`` with ``status`` and the request's id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}", body
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body
