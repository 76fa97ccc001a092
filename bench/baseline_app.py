"""The baseline of a claim submission: the least a serialised submission does, served by the same stack.

``POST /v1/claims/{id}/submit`` (the very path of the budget service's submission, so the gateway routes
it exactly as it routes a real one, when its ``GATEWAY_BUDGET_URL`` points here) does, in ONE
transaction, only what the issue's baseline does: lock one row (the pot's, ``SELECT … FOR UPDATE``) and
insert one row referencing it (the hold), then commit and answer a small JSON body. Nothing else: no
checks, no ORM objects, no claim, no history, no update of the locked row. The pot and the amount come
from the id (:func:`claim_id`: ``pot * ID_STRIDE + n``), as the budget service finds them from the
claim's id. It is built like a service (:func:`arrs_kit.app.create_service_app`: the same engine and
pool settings of :mod:`arrs_kit.db`, the request-id middleware and its JSON access log, problem+json, a
sync endpoint in the thread pool with the write session dependency, the gateway's signed principal
checked) and served by uvicorn as ``make run`` serves the services, so the only difference from the
real submission is the claim's own work.

The same statements (:data:`STATEMENTS`) are what ``pgbench`` runs for the raw database rate.

``uvicorn --factory bench.baseline_app:app`` reads ``BENCH_FLOOR_DATABASE_URL``; :func:`prepare` makes
the tables and the pots.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, FastAPI, Path
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from sqlalchemy import text

from arrs_kit.app import create_service_app
from arrs_kit.db import WriteSessionDep
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import ProblemError
from arrs_kit.settings import ServiceSettings

SUBMIT_PATH = "/v1/claims/{claim_id}/submit"
ID_STRIDE = 1_000_000
"""A baseline claim id is ``pot * ID_STRIDE + n``: ``n`` (below the stride) numbers the pot's submissions."""

SCHEMA = (
    "CREATE TABLE bench_pot (id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE bench_hold ("
    " id bigserial PRIMARY KEY,"
    " pot_id integer NOT NULL REFERENCES bench_pot (id),"
    " claim_id bigint UNIQUE,"  # NULL from pgbench; the HTTP runs' ids, each submitted once
    " amount_pence bigint NOT NULL CHECK (amount_pence > 0),"
    " reference varchar(200) NOT NULL,"
    " created_at timestamptz NOT NULL)",
)

LOCK = "SELECT id FROM bench_pot WHERE id = :pot FOR UPDATE"
INSERT = (
    "INSERT INTO bench_hold (pot_id, claim_id, amount_pence, reference, created_at)"
    " VALUES (:pot, :claim, :amount, :reference, now()) RETURNING id"
)
STATEMENTS = (LOCK, INSERT)
"""The baseline's statements, in order, between ``BEGIN`` and ``COMMIT`` (``:name`` parameters)."""


def claim_id(pot: int, n: int) -> int:
    """The id of a pot's ``n``-th baseline submission."""
    if not 0 <= n < ID_STRIDE:
        raise ValueError(f"n must be below {ID_STRIDE}")
    return pot * ID_STRIDE + n


def pot_of(claim: int) -> int:
    return claim // ID_STRIDE


def amount_of(claim: int) -> int:
    """The amount a baseline submission holds, between 1 and 1000 pence."""
    return 1 + (claim % ID_STRIDE * 7919) % 1000


def pgbench_script(*, pot: str) -> str:
    """The same transaction as a pgbench script; ``pot`` is a pgbench expression for the pot's id."""
    values = {"pot": ":pot", "amount": ":amount", "reference": "'pgbench'", "claim": "NULL"}
    body = ";\n".join(re.sub(r":(pot|amount|reference|claim)\b", lambda m: values[m.group(1)], s) for s in STATEMENTS)
    return f"\\set pot {pot}\n\\set amount random(1, 1000)\nBEGIN;\n{body};\nEND;\n"


class FloorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENCH_FLOOR_", extra="ignore")


class PotNotFound(ProblemError):
    status, code, title = 404, "pot-not-found", "No such pot"


class SubmittedPublic(BaseModel):
    id: int
    status: str
    pot: int
    amount_pence: int
    hold_id: int


router = APIRouter()


@router.post(SUBMIT_PATH, response_model=SubmittedPublic)
def submit(
    claim_id: Annotated[int, Path(ge=ID_STRIDE, le=2**63 - 1)], session: WriteSessionDep, _principal: PrincipalDep
) -> SubmittedPublic:
    pot, amount = pot_of(claim_id), amount_of(claim_id)
    if session.execute(text(LOCK), {"pot": pot}).scalar_one_or_none() is None:
        raise PotNotFound(f"No pot {pot}.")
    params = {"pot": pot, "claim": claim_id, "amount": amount, "reference": f"claim {claim_id}"}
    hold_id = session.execute(text(INSERT), params).scalar_one()
    session.commit()
    return SubmittedPublic(id=claim_id, status="submitted", pot=pot, amount_pence=amount, hold_id=hold_id)


def create_app(settings: FloorSettings | None = None) -> FastAPI:
    return create_service_app(
        name="floor",
        title="Benchmark baseline: lock one row, insert one row",
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
