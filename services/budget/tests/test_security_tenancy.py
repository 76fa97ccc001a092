"""Tenancy (security probe, issue 9; domain.md §8), on SQLite and PostgreSQL.

A resource outside a client's scope does not exist for it: reading or writing it by id is 404 with
the very body an unknown id gets (but for the request id and the path), and no answer to a client
about something outside its scope names another tenant's PCN or ICB. A conflict over a code
(a PCN code, a practice held by another PCN) says the code is taken, and by whom only to an admin
or the ICB that holds it.

The other tenant here is ICB QHM with PCN U00001 (practices A81001, A81002), holding a post, a
draft claim, a funded pot and a workforce plan; the clients outside it are ICB QOX, its PCN
U00003, a practice system and a dashboard of QOX.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit.principal import Principal
from arrs_kit.testing import asgi_client, assert_problem

from .factories import POST

pytestmark = pytest.mark.usefixtures("register")

FY = "2024-25"
THEIRS = ("U00001", "QHM")  # the other tenant's codes, never to be seen by the clients outside it
UNKNOWN_PCN, UNKNOWN_ID = "U09999", 999_999
OTHER_PRACTICE = Principal(kind="practice_system", client_id="test-practice-b", org_codes=("B82001",))
OTHER_DASHBOARD = Principal(kind="dashboard", client_id="test-dashboard-qox", org_codes=("QOX",))

AMOUNTS = {"salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}


@pytest.fixture
async def theirs(admin: httpx.AsyncClient) -> dict[str, int]:
    """PCN U00001's post, draft claim, funded pot and workforce plan; answers the post and claim ids."""
    top_up = {"pot": "arrs", "amount_pence": 10_000_000, "reason": "funding"}
    assert (await admin.post(f"/v1/pcns/U00001/budgets/{FY}/allocations", json=top_up)).status_code == 201
    post = await admin.post("/v1/posts", json=POST)
    assert post.status_code == 201, post.text
    claim = await admin.post("/v1/claims", json={"post_id": post.json()["id"], "month": "2024-10", **AMOUNTS})
    assert claim.status_code == 201, claim.text
    plan = await admin.put(f"/v1/pcns/U00001/workforce-plans/{FY}", json={"lines": []})
    assert plan.status_code == 201, plan.text
    return {"post": post.json()["id"], "claim": claim.json()["id"]}


@pytest.fixture
async def other_practice(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(budget_app, principal=OTHER_PRACTICE) as client:
        yield client


@pytest.fixture
async def other_dashboard(budget_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(budget_app, principal=OTHER_DASHBOARD) as client:
        yield client


@pytest.fixture
def outsiders(
    other_icb: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    other_practice: httpx.AsyncClient,
    other_dashboard: httpx.AsyncClient,
) -> dict[str, httpx.AsyncClient]:
    return {"icb": other_icb, "pcn": other_pcn, "practice_system": other_practice, "dashboard": other_dashboard}


def writes(pcn: str, post_id: int, claim_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every write that names a resource by id (in the path, or a post in the body): method, path, body."""
    claim = f"/v1/claims/{claim_id}"
    return [
        ("PATCH", f"/v1/pcns/{pcn}", {"list_size": 2}),
        (
            "PUT",
            f"/v1/pcns/{pcn}/weighted-populations/{FY}",
            {"weighted_population": "1.000", "reference_date": "2024-01-01"},
        ),
        ("POST", f"/v1/pcns/{pcn}/budgets/{FY}/allocate", None),
        ("POST", f"/v1/pcns/{pcn}/budgets/{FY}/allocations", {"pot": "arrs", "amount_pence": 1, "reason": "x"}),
        ("POST", f"/v1/pcns/{pcn}/budgets/2023-24/close", None),
        ("PUT", f"/v1/pcns/{pcn}/workforce-plans/2025-26", {"lines": []}),
        ("PATCH", f"/v1/posts/{post_id}", {"afc_band": "8a"}),
        ("POST", "/v1/claims", {"post_id": post_id, "month": "2024-09", **AMOUNTS}),
        ("POST", "/v1/claims/preview", {"post_id": post_id, "month": "2024-09", **AMOUNTS}),
        ("PATCH", claim, {"salary_pence": 1}),
        ("POST", f"{claim}/submit", None),
        ("POST", f"{claim}/withdraw", {"reason": "x"}),
        ("POST", f"{claim}/approve", None),
        ("POST", f"{claim}/reject", {"reason": "x"}),
        ("POST", f"{claim}/pay", {"payment_reference": "x"}),
        ("POST", f"{claim}/adjustments", {**AMOUNTS, "reason": "x"}),
    ]


async def send(client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    headers = {"If-Match": "*"} if method == "PATCH" else {}
    return await client.request(method, path, json=body, headers=headers)


def comparable(response: httpx.Response) -> dict[str, Any]:
    """The problem body without what is only this request's: its id and its path."""
    body: dict[str, Any] = response.json()
    return {k: v for k, v in body.items() if k not in ("request_id", "instance")}


async def test_an_out_of_scope_write_is_the_404_of_an_unknown_id(
    theirs: dict[str, int], outsiders: dict[str, httpx.AsyncClient]
) -> None:
    for kind, client in outsiders.items():
        unknown = writes(UNKNOWN_PCN, UNKNOWN_ID, UNKNOWN_ID)
        for (method, path, body), (_, unknown_path, unknown_body) in zip(
            writes("U00001", theirs["post"], theirs["claim"]), unknown, strict=True
        ):
            response = await send(client, method, path, body)
            assert response.status_code == 404, f"{kind} {method} {path}: {response.status_code} {response.text}"
            assert response.headers["content-type"] == "application/problem+json"
            answer = await send(client, method, unknown_path, unknown_body)
            assert comparable(response) == comparable(answer), f"{kind} {method} {path}"


async def test_no_answer_outside_scope_names_the_other_tenant(
    admin: httpx.AsyncClient, theirs: dict[str, int], outsiders: dict[str, httpx.AsyncClient]
) -> None:
    post, claim = theirs["post"], theirs["claim"]
    reads = [
        ("GET", path, None)
        for path in (
            "/v1/pcns/U00001",
            f"/v1/pcns/U00001/budgets/{FY}",
            "/v1/pcns/U00001/ledger",
            f"/v1/pcns/U00001/forecast?fy={FY}",
            "/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01",
            f"/v1/pcns/U00001/workforce-plans/{FY}",
            f"/v1/posts/{post}",
            f"/v1/claims/{claim}",
            "/v1/practices/A81001",
            "/v1/pcns?icb_code=QHM",
            "/v1/posts?pcn_code=U00001",
            "/v1/claims?pcn_code=U00001",
            "/v1/icbs",
            "/v1/pcns",
        )
    ]
    creates = [  # bodies naming the other tenant's organisations
        ("POST", "/v1/posts", POST),
        (
            "POST",
            "/v1/pcns",
            {"code": "U00009", "name": "P", "icb_code": "QHM", "practice_codes": ["C00001"], "list_size": 1},
        ),
    ]
    for kind, client in outsiders.items():
        for method, path, body in [*writes("U00001", post, claim), *reads, *creates]:
            response = await send(client, method, path, body)
            shown = {k: v for k, v in response.json().items() if k != "instance"}  # the caller's own path
            for code in THEIRS:
                assert code not in json.dumps(shown), f"{kind} {method} {path} names {code}: {response.text}"


async def test_a_taken_code_is_named_to_its_holder_only(
    admin: httpx.AsyncClient, icb: httpx.AsyncClient, other_icb: httpx.AsyncClient
) -> None:
    # A PCN code another ICB's PCN has: taken, but not by whom.
    exists = {"code": "U00001", "name": "Mine", "icb_code": "QOX", "practice_codes": ["B82099"], "list_size": 1}
    body = assert_problem(await other_icb.post("/v1/pcns", json=exists), 409, "pcn-exists")
    assert "QHM" not in json.dumps(body)

    # A practice that is a member of the other ICB's PCN U00001.
    taken = {"code": "U00004", "name": "New", "icb_code": "QOX", "practice_codes": ["A81001"], "list_size": 1}
    body = assert_problem(await other_icb.post("/v1/pcns", json=taken), 409, "practice-in-another-pcn")
    assert body["conflicts"] == [{"practice_code": "A81001"}] and "pcn_code" not in body
    assert not any(code in json.dumps(body) for code in THEIRS), body
    mine = await other_icb.get("/v1/pcns/U00003")
    response = await other_icb.patch(
        "/v1/pcns/U00003", json={"practice_codes": ["B82001", "A81001"]}, headers={"If-Match": mine.headers["etag"]}
    )
    body = assert_problem(response, 409, "practice-in-another-pcn")
    assert not any(code in json.dumps(body) for code in THEIRS), body

    # The ICB that holds it, and an admin, are told which PCN has it.
    for holder in (icb, admin):
        own = {**taken, "icb_code": "QHM", "code": "U00005"}
        body = assert_problem(await holder.post("/v1/pcns", json=own), 409, "practice-in-another-pcn")
        assert body["pcn_code"] == "U00001" and body["conflicts"] == [{"practice_code": "A81001", "pcn_code": "U00001"}]
        assert "U00001" in body["detail"]

    # A practice that was U00001's until 31 May 2024: its history is not the other ICB's to read.
    current = await admin.get("/v1/pcns/U00001")
    moved = {"practice_codes": ["A81001"], "effective_date": "2024-06-01"}
    assert (
        await admin.patch("/v1/pcns/U00001", json=moved, headers={"If-Match": current.headers["etag"]})
    ).status_code == 200
    earlier = {**taken, "practice_codes": ["A81002"], "effective_date": "2024-05-01"}
    body = assert_problem(await other_icb.post("/v1/pcns", json=earlier), 409, "membership-overlap")
    assert not any(code in json.dumps(body) for code in THEIRS), body
    assert "2024-05-31" in body["detail"]
    body = assert_problem(await icb.post("/v1/pcns", json={**earlier, "icb_code": "QHM"}), 409, "membership-overlap")
    assert body["pcn_code"] == "U00001"
