"""Posts are checked against the catalogue and the employment model (security probe, issue 9), on
SQLite and PostgreSQL.

A post's role must be one the role catalogue (the roles service) has: 422 ``unknown-role`` when it
has none, 503 ``roles-unavailable`` when it cannot be read, nothing written either way. A post
employed by a practice (``pcn_lead_practice``, ``member_practice``) is employed by a current member
practice of its PCN: 422 ``employer-not-in-pcn`` otherwise, on creation and on a patch that
changes the employment model or the employer; the answer names no other tenant's organisation.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from arrs_kit.principal import Principal
from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import asgi_client, assert_problem
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app
from budget.models import Post

from .factories import POST

pytestmark = pytest.mark.usefixtures("register")

PCN_PRINCIPAL = Principal(kind="pcn", client_id="test-pcn", org_codes=("U00001",))


def post_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return int(session.execute(select(func.count()).select_from(Post)).scalar_one())
    finally:
        engine.dispose()


async def new_terms(client: httpx.AsyncClient, post_id: int, day: str, changes: dict[str, Any]) -> httpx.Response:
    """A new set of the post's terms from ``day`` (employment and employer are dated terms)."""
    return await client.post(f"/v1/posts/{post_id}/terms", json={"effective_from": day, **changes})


async def patch(client: httpx.AsyncClient, post_id: int, changes: dict[str, Any]) -> httpx.Response:
    etag = (await client.get(f"/v1/posts/{post_id}")).headers["etag"]
    return await client.patch(f"/v1/posts/{post_id}", json=changes, headers={"If-Match": etag})


@pytest.mark.parametrize("role_code", ["nope_role", "clinical_pharmacist_x"])
async def test_a_role_the_catalogue_does_not_have_is_refused(
    pcn: httpx.AsyncClient, budget_db_url: str, role_code: str
) -> None:
    body = assert_problem(await pcn.post("/v1/posts", json={**POST, "role_code": role_code}), 422, "unknown-role")
    assert body["role_code"] == role_code and role_code in body["detail"]
    assert post_count(budget_db_url) == 0


async def test_a_post_cannot_be_made_while_the_catalogue_cannot_be_read(budget_db_url: str) -> None:
    closed = RoleCatalogue.over_http("http://127.0.0.1:9", gateway_secret=DEV_GATEWAY_SECRET)  # nothing listens
    down = create_app(BudgetSettings(database_url=budget_db_url), configure_logs=False, catalogue=closed)
    async with asgi_client(down, principal=PCN_PRINCIPAL) as client:
        assert_problem(await client.post("/v1/posts", json=POST), 503, "roles-unavailable")
    assert post_count(budget_db_url) == 0


@pytest.mark.parametrize(
    ("model", "employer"),
    [
        ("pcn_lead_practice", "B82001"),  # a practice of another ICB's PCN
        ("member_practice", "B82001"),
        ("pcn_lead_practice", "A81003"),  # a practice of another PCN of the same ICB
        ("member_practice", "Z99999"),  # a practice in no PCN at all
    ],
)
async def test_a_practice_employer_must_be_a_member_of_the_pcn(
    pcn: httpx.AsyncClient, budget_db_url: str, model: str, employer: str
) -> None:
    response = await pcn.post("/v1/posts", json={**POST, "employment_model": model, "employer_code": employer})
    body = assert_problem(response, 422, "employer-not-in-pcn")
    assert body["employer_code"] == employer and body["employment_model"] == model
    for other in ("U00002", "U00003", "QOX"):  # whose practice it is, is not the PCN's to learn
        assert other not in json.dumps(body)
    assert post_count(budget_db_url) == 0


@pytest.mark.parametrize(
    ("model", "employer"),
    [("member_practice", "A81002"), ("pcn_lead_practice", "a81001"), ("nhs_trust", "RX1"), ("supplier", "B82001")],
)
async def test_employers_the_model_allows_are_accepted(pcn: httpx.AsyncClient, model: str, employer: str) -> None:
    response = await pcn.post("/v1/posts", json={**POST, "employment_model": model, "employer_code": employer})
    assert response.status_code == 201, response.text
    assert response.json()["employer_code"] == employer.upper()


async def test_a_patch_of_the_employment_terms_is_checked_too(admin: httpx.AsyncClient, pcn: httpx.AsyncClient) -> None:
    trust = (await pcn.post("/v1/posts", json={**POST, "employment_model": "nhs_trust", "employer_code": "RX1"})).json()
    # The trust's code is no member practice: a move to a practice model must name one.
    practice = {"employment_model": "member_practice"}
    assert_problem(await new_terms(pcn, trust["id"], "2024-05-01", practice), 422, "employer-not-in-pcn")
    assert_problem(
        await new_terms(pcn, trust["id"], "2024-05-01", {**practice, "employer_code": "B82001"}),
        422,
        "employer-not-in-pcn",
    )
    moved = await new_terms(pcn, trust["id"], "2024-05-01", {**practice, "employer_code": "A81002"})
    assert moved.status_code == 201, moved.text
    assert_problem(
        await new_terms(pcn, trust["id"], "2024-06-01", {"employer_code": "A81003"}), 422, "employer-not-in-pcn"
    )
    assert (await pcn.get(f"/v1/posts/{trust['id']}")).json()["employer_code"] == "A81002"

    # Once the employer practice has left the PCN, edits of anything else still go through; a new
    # employer is checked again.
    current = await admin.get("/v1/pcns/U00001")
    leave = {"practice_codes": ["A81001"], "effective_date": "2024-06-01"}
    assert (
        await admin.patch("/v1/pcns/U00001", json=leave, headers={"If-Match": current.headers["etag"]})
    ).status_code == 200
    assert (await patch(pcn, trust["id"], {"display_name": "Renamed"})).status_code == 200
    assert_problem(
        await new_terms(pcn, trust["id"], "2024-07-01", {"employer_code": "A81002"}), 422, "employer-not-in-pcn"
    )
    assert (await new_terms(pcn, trust["id"], "2024-07-01", {"employer_code": "A81001"})).status_code == 201
