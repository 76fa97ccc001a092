"""The floor of a hold: the least work a serialised hold does, over HTTP through the services' own stack.

``POST /v1/holds`` with ``{"pot": 1, "amount_pence": 100, "reference": "..."}`` does, in ONE transaction,
what a claim submission cannot avoid doing on the ledger: lock the pot's row ``FOR UPDATE``, insert one
row (the posting: it references the pot, as a posting references its balance row) and add the amount
to the locked row (the balance changes with the posting), then commit. Nothing else: no checks, no ORM
objects, no claim, no history. It is built like a service (:func:`arrs_kit.app.create_service_app`: the
same engine and pool settings of :mod:`arrs_kit.db`, the request-id middleware and its JSON access log,
problem+json, a sync endpoint in the thread pool with the write session dependency, the gateway's
signed principal checked) and served by uvicorn as ``make run`` serves the services, so the only
difference from ``POST /v1/claims/{id}/submit`` is the claim's own work.

The same statements (:data:`STATEMENTS`) are what ``pgbench`` runs for the raw database rate.

``uvicorn --factory bench.baseline_app:app`` reads ``BENCH_FLOOR_DATABASE_URL``; :func:`prepare` makes
the tables and the pots.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict
from sqlalchemy import text

from arrs_kit.app import create_service_app
from arrs_kit.db import WriteSessionDep
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import ProblemError
from arrs_kit.settings import ServiceSettings

HOLDS_PATH = "/v1/holds"

SCHEMA = (
    "CREATE TABLE bench_pot ("
    " id integer PRIMARY KEY,"
    " held_pence bigint NOT NULL DEFAULT 0 CHECK (held_pence >= 0),"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE bench_hold ("
    " id bigserial PRIMARY KEY,"
    " pot_id integer NOT NULL REFERENCES bench_pot (id),"
    " amount_pence bigint NOT NULL CHECK (amount_pence > 0),"
    " reference varchar(200) NOT NULL,"
    " created_at timestamptz NOT NULL)",
)

LOCK = "SELECT held_pence FROM bench_pot WHERE id = :pot FOR UPDATE"
INSERT = (
    "INSERT INTO bench_hold (pot_id, amount_pence, reference, created_at)"
    " VALUES (:pot, :amount, :reference, now()) RETURNING id"
)
ADD = "UPDATE bench_pot SET held_pence = held_pence + :amount, updated_at = now() WHERE id = :pot"
STATEMENTS = (LOCK, INSERT, ADD)
"""A hold's irreducible statements, in order, between ``BEGIN`` and ``COMMIT`` (``:name`` parameters)."""


def pgbench_script(*, pot: str) -> str:
    """The same transaction as a pgbench script; ``pot`` is a pgbench expression for the pot's id."""
    body = ";\n".join(re.sub(r":(pot|amount|reference)\b", _pgbench_variable, s) for s in STATEMENTS)
    return f"\\set pot {pot}\n\\set amount random(1, 1000)\nBEGIN;\n{body};\nEND;\n"


def _pgbench_variable(match: re.Match[str]) -> str:
    return "'pgbench'" if match.group(1) == "reference" else f":{match.group(1)}"


class FloorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENCH_FLOOR_", extra="ignore")


class PotNotFound(ProblemError):
    status, code, title = 404, "pot-not-found", "No such pot"


class HoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pot: Annotated[int, Field(ge=1, le=2**31 - 1)]
    amount_pence: Annotated[int, Field(ge=1, le=10**9)]
    reference: Annotated[str, Field(min_length=1, max_length=200)]


class HoldPublic(BaseModel):
    id: int
    pot: int
    amount_pence: int
    held_pence: int


router = APIRouter()


@router.post(HOLDS_PATH, response_model=HoldPublic)
def hold(data: HoldCreate, session: WriteSessionDep, _principal: PrincipalDep) -> HoldPublic:
    held = session.execute(text(LOCK), {"pot": data.pot}).scalar_one_or_none()
    if held is None:
        raise PotNotFound(f"No pot {data.pot}.")
    params = {"pot": data.pot, "amount": data.amount_pence, "reference": data.reference}
    hold_id = session.execute(text(INSERT), params).scalar_one()
    session.execute(text(ADD), params)
    session.commit()
    return HoldPublic(id=hold_id, pot=data.pot, amount_pence=data.amount_pence, held_pence=held + data.amount_pence)


def create_app(settings: FloorSettings | None = None) -> FastAPI:
    return create_service_app(
        name="floor",
        title="Benchmark floor: lock one row, insert one row",
        description=__doc__ or "",
        version="1.0.0",
        settings=settings or FloorSettings(),
        routers=[router],
    )


def app() -> FastAPI:
    """Factory for ``uvicorn --factory bench.baseline_app:app``."""
    return create_app()


def prepare(conn: psycopg.Connection[Any], pot_ids: list[int]) -> None:
    """Create the tables and the pots on a psycopg connection (committed by the caller)."""
    for statement in SCHEMA:
        conn.execute(statement)
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO bench_pot (id) VALUES (%s)", [(pot,) for pot in pot_ids])
