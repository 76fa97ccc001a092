"""The catch-all 500 (security probe, issue 9): whatever fails, the answer is a problem body that
carries the request's id, in the body, the ``X-Request-ID`` header and the error's log line, so an
operator can find the traceback from what the client saw."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit.logs import JsonFormatter
from arrs_kit.middleware import RequestContextMiddleware
from arrs_kit.problems import install_problem_handlers


def failing_app() -> FastAPI:
    """The problem handlers and the request context as every service installs them."""
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service="test")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    return app


async def test_an_unhandled_error_answers_and_logs_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.ASGITransport(app=failing_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with caplog.at_level(logging.ERROR, logger="arrs.problems"):
            response = await client.get("/boom", headers={"X-Request-ID": "req-500-a"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/internal-error"
    assert body["request_id"] == "req-500-a"
    assert response.headers["x-request-id"] == "req-500-a"
    assert "a bug" not in response.text  # the traceback stays in the log
    [record] = [r for r in caplog.records if r.name == "arrs.problems"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-500-a"
    assert "RuntimeError: a bug" in line["exc"]


async def test_a_request_without_an_id_gets_one_on_its_500(caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx.ASGITransport(app=failing_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with caplog.at_level(logging.ERROR, logger="arrs.problems"):
            response = await client.get("/boom")
    rid = response.json()["request_id"]
    assert rid and response.headers["x-request-id"] == rid
    [record] = [r for r in caplog.records if r.name == "arrs.problems"]
    assert json.loads(JsonFormatter().format(record))["request_id"] == rid
