"""The organisation register in-process, on SQLite and PostgreSQL: ICBs, PCNs, memberships, weighted
populations, practices, and who may see and change which."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from arrs_kit.testing import assert_problem

PROBLEM = "application/problem+json"
NEW_PCN = {
    "code": "U00004",
    "name": "Seaside PCN",
    "icb_code": "QHM",
    "practice_codes": ["A81004", "A81005"],
    "list_size": 40_000,
    "effective_date": "2024-04-01",
}
WP = {"weighted_population": "51234.567", "reference_date": "2024-01-01"}
WP_PATH = "/v1/pcns/U00001/weighted-populations/2024-25"


def codes(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["code"] for row in response.json()["data"]]


async def etag_of(client: httpx.AsyncClient, pcn_code: str) -> str:
    response = await client.get(f"/v1/pcns/{pcn_code}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def patch(
    client: httpx.AsyncClient, pcn_code: str, body: dict[str, Any], reader: httpx.AsyncClient | None = None
) -> httpx.Response:
    """PATCH with the ETag just read (by ``reader`` when ``client`` may not read the PCN)."""
    etag = await etag_of(reader or client, pcn_code)
    return await client.patch(f"/v1/pcns/{pcn_code}", json=body, headers={"If-Match": etag})


# ICBs


async def test_admin_adds_an_icb_once(admin: httpx.AsyncClient) -> None:
    created = await admin.post("/v1/icbs", json={"code": "qhm", "name": "North East and North Cumbria"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["created_by"]) == ("QHM", "test-admin")
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    again = await admin.post("/v1/icbs", json={"code": "QHM", "name": "Another"})
    assert_problem(again, 409, "icb-exists")
    listed = (await admin.get("/v1/icbs")).json()["data"]
    assert [(i["code"], i["name"]) for i in listed] == [("QHM", "North East and North Cumbria")]


async def test_bad_icbs_are_422(admin: httpx.AsyncClient) -> None:
    """One body IcbCreate refuses; the 9 bad bodies this test sent are
    test_request_schemas.py::test_icb_create_refuses."""
    assert_problem(await admin.post("/v1/icbs", json={"code": "QHMM", "name": "x"}), 422, "validation-error")
    assert (await admin.get("/v1/icbs")).json()["data"] == []


async def test_only_admins_add_icbs(
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    for client in (icb, pcn, practice, dashboard, national):
        assert_problem(await client.post("/v1/icbs", json={"code": "QHM", "name": "x"}), 403, "forbidden")
    assert (await admin.get("/v1/icbs")).json()["data"] == []


async def test_who_sees_which_icbs(
    register: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    assert codes(await admin.get("/v1/icbs")) == ["QHM", "QOX"]
    assert codes(await national.get("/v1/icbs")) == ["QHM", "QOX"]
    assert codes(await icb.get("/v1/icbs")) == ["QHM"]
    assert codes(await other_icb.get("/v1/icbs")) == ["QOX"]
    assert codes(await dashboard.get("/v1/icbs")) == ["QHM"]
    assert codes(await pcn.get("/v1/icbs")) == ["QHM"]  # the ICB of its PCN
    assert codes(await other_pcn.get("/v1/icbs")) == ["QOX"]
    assert_problem(await practice.get("/v1/icbs"), 403, "forbidden")


async def test_icbs_page_and_csv(register: None, admin: httpx.AsyncClient) -> None:
    first = (await admin.get("/v1/icbs", params={"limit": 1})).json()
    assert [i["code"] for i in first["data"]] == ["QHM"] and first["next_cursor"]
    second = (await admin.get("/v1/icbs", params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert [i["code"] for i in second["data"]] == ["QOX"] and second["next_cursor"] is None
    response = await admin.get("/v1/icbs", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["code"], r["name"]) for r in rows] == [
        ("QHM", "North East and North Cumbria"),
        ("QOX", "Bath and Wiltshire"),
    ]
    assert_problem(await admin.get("/v1/icbs", params={"cursor": "nonsense!"}), 422, "invalid-cursor")


# Creating PCNs


async def test_admin_adds_a_pcn_with_its_practices(register: None, admin: httpx.AsyncClient) -> None:
    body = {**NEW_PCN, "code": "u00004", "icb_code": "qhm", "practice_codes": ["a81005", "A81004"]}
    created = await admin.post("/v1/pcns", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/pcns/U00004"
    assert created.headers["etag"] == '"pcn-U00004-v1"'
    seaside = created.json()
    assert (seaside["code"], seaside["icb_code"], seaside["icb_name"]) == (
        "U00004",
        "QHM",
        "North East and North Cumbria",
    )
    assert seaside["practice_codes"] == ["A81004", "A81005"]
    assert seaside["practices"] == [
        {"practice_code": "A81004", "valid_from": "2024-04-01"},
        {"practice_code": "A81005", "valid_from": "2024-04-01"},
    ]
    assert seaside["list_size"] == 40_000 and seaside["weighted_populations"] == []
    assert seaside["created_by"] == seaside["updated_by"] == "test-admin"
    assert all(m["valid_to"] is None and m["opened_by"] == "test-admin" for m in seaside["membership_history"])
    read = await admin.get("/v1/pcns/u00004")
    assert read.json() == seaside and read.headers["etag"] == created.headers["etag"]


async def test_memberships_start_today_in_england_by_default(register: None, admin: httpx.AsyncClient) -> None:
    body = {key: value for key, value in NEW_PCN.items() if key != "effective_date"}
    created = await admin.post("/v1/pcns", json=body)
    assert created.status_code == 201, created.text
    today = datetime.now(ZoneInfo("Europe/London")).date().isoformat()
    assert {p["valid_from"] for p in created.json()["practices"]} == {today}


async def test_an_icb_adds_pcns_to_its_own_icb_only(
    register: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    created = await icb.post("/v1/pcns", json=NEW_PCN)
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "QHM digital team"
    other = await other_icb.post("/v1/pcns", json={**NEW_PCN, "code": "U00005", "practice_codes": ["B82009"]})
    assert_problem(other, 403, "forbidden")
    for client in (pcn, practice, dashboard, national):
        response = await client.post("/v1/pcns", json={**NEW_PCN, "code": "U00006", "practice_codes": ["A81009"]})
        assert_problem(response, 403, "forbidden")
    assert codes(await admin.get("/v1/pcns")) == ["U00001", "U00002", "U00003", "U00004"]


async def test_unknown_icb_and_existing_pcn(register: None, admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.post("/v1/pcns", json={**NEW_PCN, "icb_code": "ZZZ"}), 422, "unknown-icb")
    again = await admin.post("/v1/pcns", json={**NEW_PCN, "code": "u00001", "practice_codes": ["A81099"]})
    assert_problem(again, 409, "pcn-exists")
    assert (await admin.get("/v1/practices/A81099")).status_code == 404


async def test_a_practice_in_another_pcn_is_refused_and_named(register: None, admin: httpx.AsyncClient) -> None:
    response = await admin.post("/v1/pcns", json={**NEW_PCN, "practice_codes": ["A81004", "a81002"]})
    body = assert_problem(response, 409, "practice-in-another-pcn")
    assert body["pcn_code"] == "U00001"
    assert body["conflicts"] == [{"practice_code": "A81002", "pcn_code": "U00001"}]
    assert "U00001" in body["detail"] and "A81002" in body["detail"]
    # Nothing was written: no PCN, and the other practice is in no PCN.
    assert_problem(await admin.get("/v1/pcns/U00004"), 404, "pcn-not-found")
    assert_problem(await admin.get("/v1/practices/A81004"), 404, "practice-not-found")


async def test_bad_pcns_are_422_and_write_nothing(register: None, admin: httpx.AsyncClient) -> None:
    """One body PcnCreate refuses; the 20 bad bodies this test sent are
    test_request_schemas.py::test_pcn_create_refuses."""
    change = {"practice_codes": ["A81004", "a81004"]}
    body = assert_problem(await admin.post("/v1/pcns", json={**NEW_PCN, **change}), 422, "validation-error")
    assert any("practice_codes" in e["loc"] for e in body["errors"]), body
    assert codes(await admin.get("/v1/pcns")) == ["U00001", "U00002", "U00003"]


async def test_a_future_effective_date_is_refused(register: None, admin: httpx.AsyncClient) -> None:
    tomorrow = (datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=1)).isoformat()
    response = await admin.post("/v1/pcns", json={**NEW_PCN, "effective_date": tomorrow})
    assert_problem(response, 422, "invalid-effective-date")


# Reading PCNs


async def test_who_lists_which_pcns(
    register: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    assert codes(await admin.get("/v1/pcns")) == ["U00001", "U00002", "U00003"]
    assert codes(await admin.get("/v1/pcns", params={"icb_code": "qox"})) == ["U00003"]
    assert codes(await national.get("/v1/pcns")) == ["U00001", "U00002", "U00003"]
    assert codes(await icb.get("/v1/pcns")) == ["U00001", "U00002"]
    assert codes(await icb.get("/v1/pcns", params={"icb_code": "QOX"})) == []  # a filter never widens scope
    assert codes(await other_icb.get("/v1/pcns")) == ["U00003"]
    assert codes(await dashboard.get("/v1/pcns")) == ["U00001", "U00002"]
    assert codes(await pcn.get("/v1/pcns")) == ["U00001"]
    assert codes(await other_pcn.get("/v1/pcns")) == ["U00003"]
    assert_problem(await practice.get("/v1/pcns"), 403, "forbidden")
    assert_problem(await admin.get("/v1/pcns", params={"icb_code": "QHMM"}), 422, "validation-error")


async def test_pcns_page_and_csv(register: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await admin.get("/v1/pcns", params=params)).json()
        seen += [p["code"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["U00001", "U00002", "U00003"]
    response = await icb.get("/v1/pcns", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["code"], r["icb_code"], r["icb_name"], r["practice_codes"]) for r in rows] == [
        ("U00001", "QHM", "North East and North Cumbria", "A81001;A81002"),
        ("U00002", "QHM", "North East and North Cumbria", "A81003"),
    ]


async def test_who_reads_which_pcn(
    register: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    for client in (admin, national, icb, dashboard, pcn):
        response = await client.get("/v1/pcns/U00001")
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"pcn-U00001-v1"'
    assert (await other_icb.get("/v1/pcns/U00003")).status_code == 200
    # Out of scope reads the same as not there at all.
    for client, code in (
        (other_icb, "U00001"),
        (other_pcn, "U00001"),
        (pcn, "U00002"),
        (dashboard, "U00003"),
        (practice, "U00001"),
        (admin, "U09999"),
    ):
        assert_problem(await client.get(f"/v1/pcns/{code}"), 404, "pcn-not-found")


@pytest.mark.parametrize("path", ["/v1/pcns/X00001", "/v1/pcns/U0000", "/v1/pcns/U00001%0A", "/v1/pcns/U%0000001"])
async def test_malformed_pcn_codes_are_422(register: None, admin: httpx.AsyncClient, path: str) -> None:
    assert_problem(await admin.get(path), 422, "validation-error")


async def test_requests_without_the_gateway_are_refused(register: None, anonymous: httpx.AsyncClient) -> None:
    anonymous = anonymous
    for method, path in (
        ("GET", "/v1/icbs"),
        ("POST", "/v1/icbs"),
        ("GET", "/v1/pcns"),
        ("POST", "/v1/pcns"),
        ("GET", "/v1/pcns/U00001"),
        ("PATCH", "/v1/pcns/U00001"),
        ("PUT", WP_PATH),
        ("GET", "/v1/practices/A81001"),
    ):
        body = WP if method == "PUT" else ({"name": "x"} if method == "PATCH" else NEW_PCN)
        response = await anonymous.request(method, path, json=body if method != "GET" else None)
        assert_problem(response, 401, "unauthenticated")


# Changing PCNs


async def test_patch_needs_a_fresh_if_match(register: None, admin: httpx.AsyncClient) -> None:
    missing = await admin.patch("/v1/pcns/U00001", json={"name": "Riverside and Quay PCN"})
    assert_problem(missing, 428, "precondition-required")
    etag = await etag_of(admin, "U00001")
    changed = await admin.patch(
        "/v1/pcns/u00001", json={"name": "Riverside and Quay PCN", "list_size": 53_500}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"pcn-U00001-v2"'
    riverside = changed.json()
    assert (riverside["name"], riverside["list_size"], riverside["updated_by"]) == (
        "Riverside and Quay PCN",
        53_500,
        "test-admin",
    )
    assert riverside["created_at"] != riverside["updated_at"]
    stale = await admin.patch("/v1/pcns/U00001", json={"name": "Again"}, headers={"If-Match": etag})
    body = assert_problem(stale, 412, "precondition-failed")
    assert stale.headers["etag"] == '"pcn-U00001-v2"' and body["detail"]
    assert (await admin.get("/v1/pcns/U00001")).json()["name"] == "Riverside and Quay PCN"
    # Sending what is already there changes nothing, not even the ETag.
    same = await admin.patch("/v1/pcns/U00001", json={"list_size": 53_500}, headers={"If-Match": '"pcn-U00001-v2"'})
    assert same.status_code == 200 and same.headers["etag"] == '"pcn-U00001-v2"'


async def test_who_may_change_a_pcn(
    register: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    ok = await patch(icb, "U00001", {"list_size": 1})
    assert ok.status_code == 200 and ok.json()["updated_by"] == "QHM digital team"
    # Those who cannot read it (they send a made-up ETag) are told there is no such PCN, as for an
    # unknown code; those who read it but may not change it, 403.
    for client in (other_icb, practice):
        response = await client.patch("/v1/pcns/U00001", json={"list_size": 2}, headers={"If-Match": "*"})
        assert_problem(response, 404, "pcn-not-found")
    for client in (pcn, dashboard, national):
        response = await patch(client, "U00001", {"list_size": 2}, reader=admin)
        assert_problem(response, 403, "forbidden")
    assert_problem(
        await admin.patch("/v1/pcns/U09999", json={"list_size": 2}, headers={"If-Match": "*"}), 404, "pcn-not-found"
    )
    assert (await admin.get("/v1/pcns/U00001")).json()["list_size"] == 1


async def test_bad_patches_are_422(register: None, admin: httpx.AsyncClient) -> None:
    """One body PcnUpdate refuses; the 8 bad bodies this test sent are
    test_request_schemas.py::test_pcn_update_refuses."""
    response = await patch(admin, "U00001", {"effective_date": "2024-06-01"})
    assert_problem(response, 422, "validation-error")
    assert (await admin.get("/v1/pcns/U00001")).headers["etag"] == '"pcn-U00001-v1"'


async def test_a_practice_moves_and_its_history_stays(
    register: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    left = await patch(icb, "U00001", {"practice_codes": ["A81001"], "effective_date": "2025-01-01"})
    assert left.status_code == 200, left.text
    riverside = left.json()
    assert riverside["practice_codes"] == ["A81001"]
    assert riverside["practices"] == [{"practice_code": "A81001", "valid_from": "2024-04-01"}]
    gone = next(m for m in riverside["membership_history"] if m["practice_code"] == "A81002")
    assert (gone["valid_from"], gone["valid_to"], gone["closed_by"]) == ("2024-04-01", "2024-12-31", "QHM digital team")

    joined = await patch(icb, "U00002", {"practice_codes": ["a81002", "A81003"], "effective_date": "2025-01-01"})
    assert joined.status_code == 200, joined.text
    assert joined.json()["practices"] == [
        {"practice_code": "A81002", "valid_from": "2025-01-01"},
        {"practice_code": "A81003", "valid_from": "2024-04-01"},
    ]
    moved = (await admin.get("/v1/practices/a81002")).json()
    assert moved == {
        "practice_code": "A81002",
        "pcn_code": "U00002",
        "icb_code": "QHM",
        "history": [
            {"pcn_code": "U00001", "icb_code": "QHM", "valid_from": "2024-04-01", "valid_to": "2024-12-31"},
            {"pcn_code": "U00002", "icb_code": "QHM", "valid_from": "2025-01-01", "valid_to": None},
        ],
    }
    # Its old PCN no longer sees it; its new one does.
    assert_problem(await pcn.get("/v1/practices/A81002"), 404, "practice-not-found")
    assert (await pcn.get("/v1/practices/A81001")).status_code == 200


async def test_a_practice_cannot_be_in_two_pcns(register: None, admin: httpx.AsyncClient) -> None:
    etag = await etag_of(admin, "U00002")
    response = await admin.patch(
        "/v1/pcns/U00002", json={"practice_codes": ["A81003", "A81001"]}, headers={"If-Match": etag}
    )
    body = assert_problem(response, 409, "practice-in-another-pcn")
    assert body["pcn_code"] == "U00001"
    hillside = await admin.get("/v1/pcns/U00002")
    assert hillside.headers["etag"] == etag and hillside.json()["practice_codes"] == ["A81003"]


async def test_a_new_membership_cannot_overlap_an_old_one(register: None, admin: httpx.AsyncClient) -> None:
    assert (await patch(admin, "U00001", {"practice_codes": ["A81001"], "effective_date": "2025-01-01"})).is_success
    # A81002 was in U00001 until 2024-12-31: joining U00002 from 2024-12-01 would overlap that.
    overlap = await patch(admin, "U00002", {"practice_codes": ["A81003", "A81002"], "effective_date": "2024-12-01"})
    body = assert_problem(overlap, 409, "membership-overlap")
    assert (body["practice_code"], body["pcn_code"]) == ("A81002", "U00001")
    joined = await patch(admin, "U00002", {"practice_codes": ["A81003", "A81002"], "effective_date": "2025-01-01"})
    assert joined.status_code == 200, joined.text


async def test_a_membership_keeps_at_least_one_day(register: None, admin: httpx.AsyncClient) -> None:
    same_day = await patch(admin, "U00001", {"practice_codes": ["A81001"], "effective_date": "2024-04-01"})
    assert_problem(same_day, 422, "invalid-effective-date")
    before = await patch(admin, "U00001", {"practice_codes": ["A81001"], "effective_date": "2024-01-01"})
    assert_problem(before, 422, "invalid-effective-date")
    next_day = await patch(admin, "U00001", {"practice_codes": ["A81001"], "effective_date": "2024-04-02"})
    assert next_day.status_code == 200, next_day.text
    history = next_day.json()["membership_history"]
    assert next(m for m in history if m["practice_code"] == "A81002")["valid_to"] == "2024-04-01"


async def test_a_practice_can_move_to_another_icb(
    register: None, icb: httpx.AsyncClient, other_icb: httpx.AsyncClient, practice: httpx.AsyncClient
) -> None:
    assert (await patch(icb, "U00001", {"practice_codes": ["A81002"], "effective_date": "2025-04-01"})).is_success
    moved = await patch(other_icb, "U00003", {"practice_codes": ["B82001", "B82002", "A81001"]})
    assert moved.status_code == 200, moved.text
    today = datetime.now(ZoneInfo("Europe/London")).date().isoformat()
    assert {"practice_code": "A81001", "valid_from": today} in moved.json()["practices"]
    assert (await other_icb.get("/v1/practices/A81001")).json()["icb_code"] == "QOX"
    assert_problem(await icb.get("/v1/practices/A81001"), 404, "practice-not-found")
    # The practice system bound to it follows it wherever it goes.
    assert (await practice.get("/v1/practices/A81001")).json()["pcn_code"] == "U00003"


# Weighted populations


async def test_weighted_population_is_set_replaced_and_its_history_kept(
    register: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    first = await icb.put(WP_PATH, json=WP)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "pcn_code": "U00001",
        "fy": "2024-25",
        "weighted_population": "51234.567",
        "list_size": None,
        "reference_date": "2024-01-01",
        "set_at": first.json()["set_at"],
        "set_by": "QHM digital team",
        "history": [],
    }
    assert first.headers["etag"] == '"weighted-population-U00001-2024-25-v1"'
    pcn_etag = await etag_of(admin, "U00001")
    assert pcn_etag == '"pcn-U00001-v2"'  # the PCN's representation changed with it

    second = await admin.put(WP_PATH, json={**WP, "weighted_population": "51300.1"})
    assert second.status_code == 200, second.text
    record = second.json()
    assert (record["weighted_population"], record["set_by"]) == ("51300.100", "test-admin")
    assert [(h["weighted_population"], h["set_by"], h["replaced_by"]) for h in record["history"]] == [
        ("51234.567", "QHM digital team", "test-admin")
    ]
    assert record["history"][0]["set_at"] == first.json()["set_at"]

    same = await admin.put(WP_PATH, json={**WP, "weighted_population": "51300.100"})
    assert same.status_code == 200 and same.json() == record
    assert same.headers["etag"] == second.headers["etag"] == '"weighted-population-U00001-2024-25-v2"'

    other_year = await admin.put(
        "/v1/pcns/U00001/weighted-populations/2025-26",
        json={"weighted_population": "52000", "reference_date": "2025-01-01"},
    )
    assert other_year.status_code == 200
    detail = (await pcn.get("/v1/pcns/U00001")).json()
    assert [(w["fy"], w["weighted_population"], len(w["history"])) for w in detail["weighted_populations"]] == [
        ("2024-25", "51300.100", 1),
        ("2025-26", "52000.000", 0),
    ]


async def test_weighted_population_if_match_is_honoured_when_sent(register: None, admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.put(WP_PATH, json=WP, headers={"If-Match": "*"}), 412, "precondition-failed")
    # An empty header is no precondition (If-Match is optional on this PUT).
    assert (await admin.put(WP_PATH, json={**WP, "weighted_population": "3"}, headers={"If-Match": ""})).is_success
    etag = (await admin.put(WP_PATH, json=WP)).headers["etag"]
    assert etag == '"weighted-population-U00001-2024-25-v2"'
    changed = await admin.put(WP_PATH, json={**WP, "weighted_population": "1"}, headers={"If-Match": etag})
    assert changed.status_code == 200
    stale = await admin.put(WP_PATH, json={**WP, "weighted_population": "2"}, headers={"If-Match": etag})
    assert_problem(stale, 412, "precondition-failed")
    assert (await admin.get("/v1/pcns/U00001")).json()["weighted_populations"][0]["weighted_population"] == "1.000"


async def test_who_may_set_a_weighted_population(
    register: None,
    admin: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    for client in (pcn, dashboard, national):
        assert_problem(await client.put(WP_PATH, json=WP), 403, "forbidden")
    for client in (other_icb, practice):
        assert_problem(await client.put(WP_PATH, json=WP), 404, "pcn-not-found")
    assert_problem(await admin.put("/v1/pcns/U09999/weighted-populations/2024-25", json=WP), 404, "pcn-not-found")
    assert (await admin.get("/v1/pcns/U00001")).json()["weighted_populations"] == []


@pytest.mark.parametrize(
    ("fy", "body", "code"),
    [
        ("2024-26", WP, "invalid-financial-year"),
        ("abcdefg", WP, "invalid-financial-year"),
        ("2024-2", WP, "validation-error"),
        ("2024-25", {**WP, "reference_date": "2024-04-01"}, "invalid-reference-date"),
        ("2024-25", {**WP, "reference_date": "2023-01-01"}, "invalid-reference-date"),
        # One body WeightedPopulationPut refuses; the 10 this test sent for 2024-25 are
        # test_request_schemas.py::test_weighted_population_put_refuses.
        ("2024-25", {**WP, "weighted_population": "0.000"}, "validation-error"),
    ],
)
async def test_bad_weighted_populations_are_422(
    register: None, admin: httpx.AsyncClient, fy: str, body: dict[str, Any], code: str
) -> None:
    assert_problem(await admin.put(f"/v1/pcns/U00001/weighted-populations/{fy}", json=body), 422, code)
    assert (await admin.get("/v1/pcns/U00001")).json()["weighted_populations"] == []


async def test_replaced_weighted_populations_cannot_be_edited_in_the_database(
    register: None, admin: httpx.AsyncClient, budget_app: FastAPI
) -> None:
    await admin.put(WP_PATH, json=WP)
    await admin.put(WP_PATH, json={**WP, "weighted_population": "1"})
    engine = create_engine(budget_app.state.db.url)
    try:
        for statement in (
            "UPDATE weighted_population_history SET weighted_population_milli = 5",
            "DELETE FROM weighted_population_history",
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT weighted_population_milli FROM weighted_population_history")).all() == [
                (51_234_567,)
            ]
    finally:
        engine.dispose()


async def test_the_database_keeps_one_open_membership_per_practice(register: None, budget_app: FastAPI) -> None:
    engine = create_engine(budget_app.state.db.url)
    try:
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO practice_membership (practice_code, pcn_code, valid_from, opened_at, opened_by) "
                    "VALUES ('A81001', 'U00002', :day, :now, 'sql')"
                ),
                {"day": date(2025, 1, 1), "now": datetime.now()},
            )
    finally:
        engine.dispose()


# Practices


async def test_who_reads_which_practice(
    register: None,
    admin: httpx.AsyncClient,
    icb: httpx.AsyncClient,
    other_icb: httpx.AsyncClient,
    pcn: httpx.AsyncClient,
    other_pcn: httpx.AsyncClient,
    practice: httpx.AsyncClient,
    dashboard: httpx.AsyncClient,
    national: httpx.AsyncClient,
) -> None:
    expected = {
        "practice_code": "A81001",
        "pcn_code": "U00001",
        "icb_code": "QHM",
        "history": [{"pcn_code": "U00001", "icb_code": "QHM", "valid_from": "2024-04-01", "valid_to": None}],
    }
    for client in (admin, national, icb, dashboard, pcn, practice):
        response = await client.get("/v1/practices/a81001")
        assert response.status_code == 200, response.text
        assert response.json() == expected
    for client, code in (
        (other_icb, "A81001"),
        (other_pcn, "A81001"),
        (pcn, "A81003"),
        (dashboard, "B82001"),
        (practice, "A81002"),
        (admin, "Z99999"),
    ):
        assert_problem(await client.get(f"/v1/practices/{code}"), 404, "practice-not-found")
    for path in ("/v1/practices/181001", "/v1/practices/A8100", "/v1/practices/A810011"):
        assert_problem(await admin.get(path), 422, "validation-error")


async def test_a_practice_in_no_pcn_is_seen_by_the_scope_of_its_last_one(
    register: None, admin: httpx.AsyncClient, icb: httpx.AsyncClient, other_icb: httpx.AsyncClient
) -> None:
    assert (await patch(admin, "U00003", {"practice_codes": ["B82001"], "effective_date": "2025-04-01"})).is_success
    gone = await other_icb.get("/v1/practices/B82002")
    assert gone.status_code == 200, gone.text
    assert (gone.json()["pcn_code"], gone.json()["icb_code"]) == (None, None)
    assert gone.json()["history"][0]["valid_to"] == "2025-03-31"
    assert_problem(await icb.get("/v1/practices/B82002"), 404, "practice-not-found")


async def test_unknown_paths_and_methods_are_problems(register: None, admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.get("/v1/nothing-here"), 404, "not-found")
    response = await admin.delete("/v1/pcns/U00001")
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["allow"].split(", ")) >= {"GET", "PATCH"}
