"""Posts in-process, on SQLite and PostgreSQL: create, read, list, CSV, patch with If-Match, every
validation rule with its problem type, and who may see and change which post."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest

from arrs_kit.testing import assert_problem

pytestmark = pytest.mark.usefixtures("register")

POST: dict[str, Any] = {
    "pcn_code": "u00001",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "outer_london",
    "hours_per_week": "22.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "a81001",
    "practice_codes": ["A81002", "a81001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Clinical pharmacist 1",
}
MHP = {**POST, "role_code": "mental_health_practitioner_adult", "funding_share": "0.5"}


async def create(client: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await client.post("/v1/posts", json={**POST, **changes})


async def created(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await create(client, **changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_pcn_creates_and_reads_a_post_exactly(pcn: httpx.AsyncClient) -> None:
    response = await create(pcn, staff_reference="HR-0042", unfunded_costs_monthly_pence={"vat": 12_345})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/posts/{body['id']}"
    assert response.headers["etag"] == f'"post-{body["id"]}-v1"'
    assert body["pcn_code"] == "U00001" and body["employer_code"] == "A81001"
    assert body["practice_codes"] == ["A81001", "A81002"]
    assert Decimal(body["hours_per_week"]) == Decimal("22.5") and body["hours_per_week"] == "22.50"
    assert body["wte"] == "0.6000"
    assert body["geography"] == "outer_london" and body["baseline"] is False
    assert body["leave_date"] is None and body["funding_share"] is None
    assert body["unfunded_costs_monthly_pence"] == {
        "management_fee": 0,
        "vat": 12_345,
        "supervision": 0,
        "training": 0,
        "estates": 0,
        "other": 0,
    }
    assert (body["created_by"], body["updated_by"]) == ("Riverside PCN manager", "Riverside PCN manager")
    read = await pcn.get(f"/v1/posts/{body['id']}")
    assert read.status_code == 200 and read.json() == body
    assert read.headers["etag"] == response.headers["etag"]


@pytest.mark.parametrize(("hours", "stored"), [("0.01", "0.01"), ("37.5", "37.50"), ("48", "48.00"), ("7.25", "7.25")])
async def test_hours_round_trip_exactly(pcn: httpx.AsyncClient, hours: str, stored: str) -> None:
    body = await created(pcn, hours_per_week=hours)
    assert body["hours_per_week"] == stored
    assert (await pcn.get(f"/v1/posts/{body['id']}")).json()["hours_per_week"] == stored


async def test_mental_health_practitioner_may_carry_a_funding_share(pcn: httpx.AsyncClient) -> None:
    for role, share in (("mental_health_practitioner_adult", "0.5"), ("mental_health_practitioner_cyp", "1.0")):
        body = await created(pcn, role_code=role, funding_share=share)
        assert body["funding_share"] == share


async def test_funding_share_is_refused_for_any_other_role(pcn: httpx.AsyncClient) -> None:
    assert_problem(await create(pcn, funding_share="0.5"), 422, "funding-share-not-allowed")
    assert (await pcn.get("/v1/posts")).json()["data"] == []


@pytest.mark.parametrize("practices", [["A81003"], ["A81001", "B82001"], ["Z99999"]])
async def test_practices_must_be_current_members_of_the_pcn(pcn: httpx.AsyncClient, practices: list[str]) -> None:
    assert_problem(await create(pcn, practice_codes=practices), 422, "practice-not-in-pcn")


async def test_former_member_practice_is_refused(admin: httpx.AsyncClient, pcn: httpx.AsyncClient) -> None:
    etag = (await admin.get("/v1/pcns/U00001")).headers["etag"]
    moved = await admin.patch(
        "/v1/pcns/U00001",
        json={"practice_codes": ["A81001"], "effective_date": "2024-06-01"},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 200, moved.text
    assert_problem(await create(pcn), 422, "practice-not-in-pcn")


async def test_leave_date_before_start_is_refused(pcn: httpx.AsyncClient) -> None:
    assert_problem(await create(pcn, leave_date="2024-03-31"), 422, "invalid-leave-date")
    body = await created(pcn, leave_date="2024-04-01")
    assert body["leave_date"] == "2024-04-01"


async def test_invalid_bodies_are_refused(pcn: httpx.AsyncClient) -> None:
    """One body PostCreate refuses; the 41 bad bodies this test sent are
    test_request_schemas.py::test_post_create_refuses."""
    assert_problem(await create(pcn, hours_per_week="48.01"), 422, "validation-error")
    assert (await pcn.get("/v1/posts")).json()["data"] == []


async def test_a_missing_required_field_is_refused(pcn: httpx.AsyncClient) -> None:
    # Each required field: test_request_schemas.test_post_create_requires.
    body = {k: v for k, v in POST.items() if k != "display_name"}
    assert_problem(await pcn.post("/v1/posts", json=body), 422, "validation-error")
    assert (await pcn.get("/v1/posts")).json()["data"] == []


async def test_unknown_pcn_is_not_found(admin: httpx.AsyncClient) -> None:
    assert_problem(await create(admin, pcn_code="U09999"), 404, "pcn-not-found")


async def test_who_may_create(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    for client in (icb, other_pcn, practice, dashboard, national):
        assert_problem(await create(client), 403, "forbidden")
    assert (await create(admin)).status_code == 201
    listed = (await admin.get("/v1/posts")).json()["data"]
    assert [p["created_by"] for p in listed] == ["test-admin"]


async def test_list_is_filtered_to_scope_paginated_and_csv(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    first = await created(pcn)
    second = await created(pcn, hours_per_week="37.5", display_name="=cmd()")
    third = await created(admin, pcn_code="U00002", employer_code="A81003", practice_codes=["A81003"])
    fourth = await created(other_pcn, pcn_code="U00003", employer_code="B82001", practice_codes=["B82001"])
    everyone = [first["id"], second["id"], third["id"], fourth["id"]]

    async def ids(client: httpx.AsyncClient, query: str = "") -> list[int]:
        response = await client.get(f"/v1/posts{query}")
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["data"]]

    assert await ids(admin) == everyone
    assert await ids(national) == everyone
    assert await ids(icb) == everyone[:3]
    assert await ids(dashboard) == everyone[:3]
    assert await ids(other_icb) == [fourth["id"]]
    assert await ids(pcn) == everyone[:2]
    assert await ids(other_pcn) == [fourth["id"]]
    assert await ids(icb, "?pcn_code=u00002") == [third["id"]]
    assert await ids(pcn, "?pcn_code=U00003") == []
    assert_problem(await admin.get("/v1/posts?pcn_code=nope"), 422, "validation-error")
    assert_problem(await practice.get("/v1/posts"), 403, "forbidden")

    page = (await admin.get("/v1/posts?limit=3")).json()
    assert [p["id"] for p in page["data"]] == everyone[:3] and page["next_cursor"]
    rest = (await admin.get(f"/v1/posts?limit=3&cursor={page['next_cursor']}")).json()
    assert [p["id"] for p in rest["data"]] == everyone[3:] and rest["next_cursor"] is None
    assert_problem(await admin.get("/v1/posts?cursor=!!"), 422, "invalid-cursor")

    as_csv = await pcn.get("/v1/posts?format=csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["id"] for r in rows] == [str(first["id"]), str(second["id"])]
    assert rows[0]["hours_per_week"] == "22.50" and rows[1]["hours_per_week"] == "37.50"
    assert rows[0]["supervisor_name"] == "Dr A Smith" and rows[0]["practice_codes"] == "A81001;A81002"
    assert rows[0]["unfunded_costs_monthly_pence_vat"] == "0" and rows[0]["baseline"] == "false"
    assert rows[1]["display_name"] == "'=cmd()"
    accept = await pcn.get("/v1/posts?limit=1", headers={"Accept": "text/csv"})
    assert accept.headers["x-next-cursor"] and len(list(csv.DictReader(io.StringIO(accept.text)))) == 1


async def test_single_reads_outside_scope_are_not_found(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    post_id = (await created(pcn))["id"]
    for client in (admin, icb, pcn, dashboard, national):
        assert (await client.get(f"/v1/posts/{post_id}")).status_code == 200
    for client in (other_icb, other_pcn, practice):
        assert_problem(await client.get(f"/v1/posts/{post_id}"), 404, "post-not-found")
    assert_problem(await admin.get("/v1/posts/999999"), 404, "post-not-found")
    assert_problem(await admin.get("/v1/posts/0"), 422, "validation-error")
    assert_problem(await admin.get("/v1/posts/abc"), 422, "validation-error")


async def test_patch_needs_if_match_and_bumps_the_etag(pcn: httpx.AsyncClient) -> None:
    post = await created(pcn)
    path = f"/v1/posts/{post['id']}"
    etag = (await pcn.get(path)).headers["etag"]
    assert_problem(await pcn.patch(path, json={"display_name": "CP 2"}), 428, "precondition-required")
    assert_problem(
        await pcn.patch(path, json={"display_name": "CP 2"}, headers={"If-Match": '"post-1-v9"'}),
        412,
        "precondition-failed",
    )
    changed = await pcn.patch(
        path,
        json={
            "leave_date": "2025-03-31",
            "supervisor": {"name": "Dr B Jones", "role": "Clinical director"},
            "unfunded_costs_monthly_pence": {"management_fee": 5_000, "training": 1},
            "staff_reference": "HR-7",
            "baseline": True,
        },
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert changed.headers["etag"] != etag and changed.headers["etag"] == (await pcn.get(path)).headers["etag"]
    assert body["hours_per_week"] == "22.50" and body["wte"] == "0.6000"  # terms are not patched
    assert body["leave_date"] == "2025-03-31" and body["baseline"] is True
    assert body["supervisor"] == {"name": "Dr B Jones", "role": "Clinical director"}
    assert body["unfunded_costs_monthly_pence"]["management_fee"] == 5_000
    assert body["unfunded_costs_monthly_pence"]["vat"] == 0
    assert body["display_name"] == POST["display_name"] and body["practice_codes"] == ["A81001", "A81002"]
    assert_problem(
        await pcn.patch(path, json={"display_name": "x"}, headers={"If-Match": etag}), 412, "precondition-failed"
    )
    cleared = await pcn.patch(
        path, json={"leave_date": None, "staff_reference": None}, headers={"If-Match": changed.headers["etag"]}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["leave_date"] is None and cleared.json()["staff_reference"] is None
    same = await pcn.patch(path, json={"display_name": POST["display_name"]}, headers={"If-Match": "*"})
    assert same.status_code == 200 and same.headers["etag"] == cleared.headers["etag"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        # One body PostUpdate refuses; the 8 this test sent are test_request_schemas.py::test_post_update_refuses.
        ({"hours_per_week": "48.5"}, 422, "validation-error"),
        ({"funding_share": "1.0"}, 422, "funding-share-not-allowed"),
        ({"practice_codes": ["B82001"]}, 422, "post-terms-are-dated"),
        ({"hours_per_week": "30", "display_name": "x"}, 422, "post-terms-are-dated"),
        ({"leave_date": "2024-03-01"}, 422, "invalid-leave-date"),
        ({"start_date": "2025-05-01", "leave_date": "2025-04-30"}, 422, "invalid-leave-date"),
    ],
)
async def test_patch_validation_writes_nothing(
    pcn: httpx.AsyncClient, changes: dict[str, Any], status: int, code: str
) -> None:
    post = await created(pcn)
    path = f"/v1/posts/{post['id']}"
    assert_problem(await pcn.patch(path, json=changes, headers={"If-Match": "*"}), status, code)
    after = await pcn.get(path)
    assert after.json() == post and after.headers["etag"] == f'"post-{post["id"]}-v1"'


async def test_patch_of_mental_health_practitioner_share(pcn: httpx.AsyncClient) -> None:
    post = (await pcn.post("/v1/posts", json=MHP)).json()
    path = f"/v1/posts/{post['id']}"
    for share in ("1.0", None):
        response = await pcn.patch(path, json={"funding_share": share}, headers={"If-Match": "*"})
        assert response.status_code == 200, response.text
        assert response.json()["funding_share"] == share


async def test_who_may_patch(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    post_id = (await created(pcn))["id"]
    path = f"/v1/posts/{post_id}"
    for client in (icb, dashboard, national):  # they read the post but may not change it
        assert_problem(
            await client.patch(path, json={"display_name": "x"}, headers={"If-Match": "*"}), 403, "forbidden"
        )
    for client in (other_pcn, practice):  # for them there is no such post
        response = await client.patch(path, json={"display_name": "x"}, headers={"If-Match": "*"})
        assert_problem(response, 404, "post-not-found")
    assert_problem(await admin.patch("/v1/posts/999999", json={}, headers={"If-Match": "*"}), 404, "post-not-found")
    response = await admin.patch(path, json={"display_name": "CP (admin)"}, headers={"If-Match": "*"})
    assert response.status_code == 200 and response.json()["updated_by"] == "test-admin"
    assert (await pcn.get(path)).json()["display_name"] == "CP (admin)"


async def test_posts_are_listed_by_icb_and_role(admin: httpx.AsyncClient, icb: httpx.AsyncClient) -> None:
    pharmacist = await created(admin)
    physio = await created(admin, role_code="first_contact_physiotherapist")
    elsewhere = await created(
        admin, pcn_code="U00003", employer_code="B82001", practice_codes=["B82001"], display_name="Downs"
    )

    async def ids(client: httpx.AsyncClient, **params: str) -> list[int]:
        response = await client.get("/v1/posts", params=params)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["data"]]

    assert await ids(admin, icb_code="qhm") == [pharmacist["id"], physio["id"]]
    assert await ids(admin, role_code="clinical_pharmacist") == [pharmacist["id"], elsewhere["id"]]
    assert await ids(admin, icb_code="QOX", role_code="clinical_pharmacist") == [elsewhere["id"]]
    # Filters never widen a client's scope: an ICB asking for another ICB's posts sees none.
    assert await ids(icb, icb_code="QOX") == []
    assert await ids(icb, role_code="clinical_pharmacist") == [pharmacist["id"]]
    assert_problem(await admin.get("/v1/posts", params={"role_code": "Not a role!"}), 422, "validation-error")


async def test_a_polled_post_list_is_answered_304_until_a_post_on_it_changes(
    admin: httpx.AsyncClient, icb: httpx.AsyncClient
) -> None:
    first = await created(admin)
    await created(admin, pcn_code="U00003", employer_code="B82001", practice_codes=["B82001"], display_name="Downs")
    page = {"icb_code": "QHM"}
    listed = await admin.get("/v1/posts", params=page)
    etag = listed.headers["ETag"]
    assert listed.status_code == 200 and etag.startswith('W/"posts-')
    again = await admin.get("/v1/posts", params=page, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    assert (await admin.get("/v1/posts", params=page, headers={"If-None-Match": '"other", *'})).status_code == 304
    # Another page, another caller's view, CSV: each its own answer.
    assert (
        await admin.get("/v1/posts", params={"icb_code": "QOX"}, headers={"If-None-Match": etag})
    ).status_code == 200
    assert (await admin.get("/v1/posts", params={**page, "role_code": "dietitian"})).headers["ETag"] != etag
    # The ETag names the bytes: the ICB sees the same page of its own ICB (304), but not another ICB's.
    assert (await icb.get("/v1/posts", headers={"If-None-Match": etag})).status_code == 304
    downs = (await admin.get("/v1/posts", params={"icb_code": "QOX"})).headers["ETag"]
    assert (await icb.get("/v1/posts", params={"icb_code": "QOX"}, headers={"If-None-Match": downs})).status_code == 200
    as_csv = await admin.get("/v1/posts", params={**page, "format": "csv"}, headers={"If-None-Match": etag})
    assert as_csv.status_code == 200 and "ETag" not in as_csv.headers
    # A post in the page changes: the page is answered whole, with a new ETag that is then 304.
    current = (await admin.get(f"/v1/posts/{first['id']}")).headers["ETag"]
    changed = await admin.patch(
        f"/v1/posts/{first['id']}", json={"display_name": "Renamed"}, headers={"If-Match": current}
    )
    assert changed.status_code == 200, changed.text
    fresh = await admin.get("/v1/posts", params=page, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.json()["data"][0]["display_name"] == "Renamed"
    assert fresh.headers["ETag"] != etag
    assert (
        await admin.get("/v1/posts", params=page, headers={"If-None-Match": fresh.headers["ETag"]})
    ).status_code == 304
    # A new post in the page changes it too.
    await created(admin, display_name="Second pharmacist")
    assert (
        await admin.get("/v1/posts", params=page, headers={"If-None-Match": fresh.headers["ETag"]})
    ).status_code == 200
