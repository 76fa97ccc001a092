"""The floors of the catalogue read: what answering the roles service's ``GET /v1/rates`` costs with
less and less of the service around it, served by uvicorn as the roles service is.

Each serves the very answer the roles service gave the benchmark's request, fetched once from the
running service (:func:`bench.floors.fetch_answer`) and handed over in a file (:data:`ANSWER_ENV`, its
media type in :data:`MEDIA_TYPE_ENV`):

- :func:`bytes_app`, **floor: same bytes**: a bare FastAPI app (no arrs_kit middleware, no principal
  check, no database) whose one route answers a ``Response`` of those bytes. What FastAPI and uvicorn
  cost per request whatever the handler does.
- :func:`models_app`, **floor: same models**: the same bare app, its route declaring the roles route's
  ``response_model`` (:class:`roles.schemas.RatePage`) and returning the page parsed from those bytes
  at start-up and kept in memory. FastAPI checks the returned object against the response model (for
  an instance of that very class pydantic takes it as it is) and serialises it to JSON per request: the
  least a route that answers its models through FastAPI costs.
- :func:`kit_app`, **kit floor**: the same bytes from an app built as a service is
  (:func:`arrs_kit.app.create_service_app`: request context and its JSON access log, problem handlers,
  the signed principal verified by the middleware and its nonce remembered, :data:`PrincipalDep`, a
  read session from :mod:`arrs_kit.db`). The session is opened and closed and issues no statement, so no
  connection is checked out: the roles read it is the floor of answers from the service's in-memory
  snapshot and issues no statement per request either (it reads the snapshot's stamp at most once a
  second). Its database (``BENCH_KIT_FLOOR_DATABASE_URL``) is
  an empty SQLite file; ``/readyz`` pings it.

``uvicorn --factory bench.floor_app:bytes_app`` (or ``models_app``, ``kit_app``).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from pydantic_settings import SettingsConfigDict

from arrs_kit.app import create_service_app
from arrs_kit.db import ReadSessionDep
from arrs_kit.principal import PrincipalDep
from arrs_kit.settings import ServiceSettings
from roles.access import KINDS
from roles.schemas import RatePage

ANSWER_ENV = "BENCH_ANSWER_FILE"
MEDIA_TYPE_ENV = "BENCH_ANSWER_MEDIA_TYPE"
ROUTE = "/v1/rates"


def _answer() -> tuple[bytes, str]:
    """The roles service's answer (its bytes and media type) as the benchmark handed it over."""
    path = os.environ.get(ANSWER_ENV)
    if not path:
        raise RuntimeError(f"{ANSWER_ENV} must name the file holding the answer to serve")
    return Path(path).read_bytes(), os.environ.get(MEDIA_TYPE_ENV, "application/json")


def _bare(title: str) -> FastAPI:
    return FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)


def bytes_app() -> FastAPI:
    """Factory: the bare app answering the same bytes."""
    body, media_type = _answer()
    app = _bare("Floor: same bytes")

    @app.get(ROUTE)
    async def rates() -> Response:
        return Response(body, media_type=media_type)

    return app


def models_app() -> FastAPI:
    """Factory: the bare app answering the same models through ``response_model``."""
    body, _media_type = _answer()
    page = RatePage.model_validate_json(body)
    app = _bare("Floor: same models")

    @app.get(ROUTE, response_model=RatePage)
    async def rates() -> RatePage:
        return page

    return app


class KitFloorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENCH_KIT_FLOOR_", extra="ignore")


def kit_app() -> FastAPI:
    """Factory: the same bytes from a service app of the kit, the signed principal and a read session
    taken, no statement issued."""
    body, media_type = _answer()
    router = APIRouter()

    @router.get(ROUTE)
    async def rates(_principal: PrincipalDep, _session: ReadSessionDep) -> Response:
        return Response(body, media_type=media_type)

    return create_service_app(
        name="kit-floor",
        title="Kit floor: the same bytes from a service app",
        description=__doc__ or "",
        version="1.0.0",
        settings=KitFloorSettings(),
        routers=[router],
        principal_kinds=KINDS,
    )
