"""The roles API in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import pytest

from arrs_kit.principal import ISSUED_HEADER, PRINCIPAL_HEADER, SIGNATURE_HEADER
from arrs_kit.testing import ADMIN, assert_problem, signed_headers

PROBLEM = "application/problem+json"


async def test_catalogue_lists_every_role_in_pages(pcn: httpx.AsyncClient) -> None:
    first = await pcn.get("/v1/roles", params={"limit": 10})
    assert first.status_code == 200
    page = first.json()
    assert len(page["data"]) == 10 and page["next_cursor"]
    codes = [r["code"] for r in page["data"]]
    cursor = page["next_cursor"]
    while cursor:
        more = (await pcn.get("/v1/roles", params={"limit": 10, "cursor": cursor})).json()
        codes += [r["code"] for r in more["data"]]
        cursor = more["next_cursor"]
    assert len(codes) == 26 == len(set(codes))
    assert codes == sorted(codes)
    assert "clinical_pharmacist" in codes and "general_medical_practitioner" in codes


async def test_claimable_on_filters_by_the_day(pcn: httpx.AsyncClient) -> None:
    early = (await pcn.get("/v1/roles", params={"claimable_on": "2019-08-01", "limit": 500})).json()["data"]
    assert {r["code"] for r in early} == {"clinical_pharmacist", "social_prescribing_link_worker"}
    late = (await pcn.get("/v1/roles", params={"claimable_on": "2025-06-01", "limit": 500})).json()["data"]
    assert len(late) == 26


async def test_roles_as_csv(pcn: httpx.AsyncClient) -> None:
    response = await pcn.get("/v1/roles", params={"format": "csv", "limit": 500})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 26
    assert {"code", "name", "staff_group", "added_on"} <= set(rows[0])
    by_accept = await pcn.get("/v1/roles", params={"limit": 2}, headers={"Accept": "text/csv"})
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert by_accept.headers["x-next-cursor"]


async def test_role_detail_has_periods_shares_caps_and_supervision(pcn: httpx.AsyncClient) -> None:
    response = await pcn.get("/v1/roles/CLINICAL_PHARMACIST")  # any case is accepted
    assert response.status_code == 200
    assert response.headers["etag"]
    role = response.json()
    assert role["code"] == "clinical_pharmacist"
    national = [p for p in role["rate_periods"] if p["geography"] == "national"]
    assert [p["annual_max_pence"] for p in national] == [
        5_731_800,
        5_931_200,
        6_234_000,
        6_234_000,  # the 1 July 2023 figure, restated for 2024-25 until the October uplift
        6_583_800,
        6_697_200,
    ]
    assert national[2]["effective_to"] == "2024-03-31" and national[3]["effective_to"] == "2024-09-30"
    assert [p["provenance"] for p in national].count("estimated") == 1
    assert all(p["status"] == "current" and p["afc_band"] is None for p in national)
    assert [s["share"] for s in role["funding_shares"]] == ["0.7", "1.0"]
    assert role["supervision"]["frequency"] == "monthly"
    ap = (await pcn.get("/v1/roles/advanced_practitioner")).json()
    assert {c["fy"]: c["max_at_or_above_threshold"] for c in ap["caps"]}["2023-24"] == 6


async def test_rates_in_force_on_a_day(pcn: httpx.AsyncClient) -> None:
    response = await pcn.get("/v1/rates", params={"on": "2024-10-01", "geography": "national", "limit": 500})
    assert response.status_code == 200
    rates = {r["role_code"]: r for r in response.json()["data"]}
    assert rates["clinical_pharmacist"]["annual_max_pence"] == 6_583_800
    assert rates["clinical_pharmacist"]["effective_from"] == "2024-10-01"
    assert rates["social_prescribing_link_worker"]["provenance"] == "estimated"
    assert rates["general_medical_practitioner"]["annual_max_pence"] == 9_246_200
    assert "healthcare_support_worker" not in rates  # no period before April 2025
    day_before = (await pcn.get("/v1/rates", params={"on": "2024-09-30", "geography": "national", "limit": 500})).json()
    before = {r["role_code"]: r for r in day_before["data"]}
    assert before["clinical_pharmacist"]["annual_max_pence"] == 6_234_000
    assert "general_medical_practitioner" not in before
    london = (await pcn.get("/v1/rates", params={"on": "2024-12-01", "geography": "london"})).json()["data"]
    assert [(r["role_code"], r["annual_max_pence"]) for r in london] == [("general_medical_practitioner", 9_523_300)]


async def test_rates_page_through_every_geography(pcn: httpx.AsyncClient) -> None:
    seen = []
    cursor = None
    for _ in range(20):
        params: dict[str, str | int] = {"on": "2025-05-01", "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await pcn.get("/v1/rates", params=params)).json()
        seen += [(r["role_code"], r["geography"], r["afc_band"]) for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert ("clinical_pharmacist", "inner_london", None) in seen and (
        "pharmacy_technician",
        "outer_london",
        None,
    ) in seen
    # Banded roles have a rate per AfC band (domain §4).
    assert {b for r, g, b in seen if (r, g) == ("mental_health_practitioner_cyp", "national")} == {
        "4",
        "5",
        "6",
        "7",
        "8a",
    }
    assert {b for r, g, b in seen if (r, g) == ("advanced_practitioner", "national")} == {"7", "8a"}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"on": "2024-13-01"}, "on"),
        ({"on": "yesterday"}, "on"),
        ({"on": "0"}, "on"),
        ({"geography": "scotland"}, "geography"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
    ],
)
async def test_bad_rate_queries_are_422(pcn: httpx.AsyncClient, params: dict[str, str], loc: str) -> None:
    body = assert_problem(await pcn.get("/v1/rates", params=params), 422, "validation-error")
    assert any(loc in e["loc"] for e in body["errors"])


async def test_a_forged_cursor_is_422(pcn: httpx.AsyncClient) -> None:
    assert_problem(await pcn.get("/v1/roles", params={"cursor": "not-a-cursor!"}), 422, "invalid-cursor")
    assert_problem(await pcn.get("/v1/rates", params={"cursor": "WyJ4Il0"}), 422, "invalid-cursor")


async def test_unknown_role_is_404(pcn: httpx.AsyncClient) -> None:
    assert_problem(await pcn.get("/v1/roles/astronaut"), 404, "role-not-found")
    assert_problem(await pcn.get("/v1/roles/astronaut/job-plan-template"), 404, "role-not-found")


async def test_job_plan_template_for_every_role(pcn: httpx.AsyncClient) -> None:
    roles = (await pcn.get("/v1/roles", params={"limit": 500})).json()["data"]
    for role in roles:
        template = (await pcn.get(f"/v1/roles/{role['code']}/job-plan-template")).json()
        assert template["purpose"] and template["responsibilities"] and template["suggested_kpis"], role["code"]
    cp = (await pcn.get("/v1/roles/clinical_pharmacist/job-plan-template")).json()
    assert any("medication review" in k["name"].lower() for k in cp["suggested_kpis"])
    assert cp["supervision"]["supervisor_roles"]


NEW_PERIOD = {
    "geography": "national",
    "effective_from": "2026-04-01",
    "annual_max_pence": 6_900_000,
    "provenance": "published",
    "source": "Network Contract DES 2026/27, Table 2",
}


async def test_admin_adds_a_period_and_it_comes_into_force(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD)
    assert response.status_code == 201, response.text
    period = response.json()
    assert period["status"] == "current" and period["created_by"] == "test-admin"
    rates = (await admin.get("/v1/rates", params={"on": "2026-04-01", "geography": "national", "limit": 500})).json()
    cp = next(r for r in rates["data"] if r["role_code"] == "clinical_pharmacist")
    assert (cp["annual_max_pence"], cp["rate_period_id"]) == (6_900_000, period["id"])
    detail = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    previous = next(
        p for p in detail["rate_periods"] if p["effective_from"] == "2025-04-01" and p["geography"] == "national"
    )
    assert previous["effective_to"] == "2026-03-31"


async def test_same_start_is_a_conflict_and_a_correction_supersedes(admin: httpx.AsyncClient) -> None:
    first = (await admin.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD)).json()
    clash = await admin.post("/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "annual_max_pence": 7_000_000})
    body = assert_problem(clash, 409, "rate-period-conflict")
    assert body["conflicting_period_id"] == first["id"]

    fixed = await admin.post(
        "/v1/roles/clinical_pharmacist/rates",
        json={**NEW_PERIOD, "annual_max_pence": 7_000_000, "supersedes_id": first["id"]},
    )
    assert fixed.status_code == 201, fixed.text
    detail = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    old = next(p for p in detail["rate_periods"] if p["id"] == first["id"])
    assert old["status"] == "superseded" and old["superseded_by_id"] == fixed.json()["id"]
    assert old["annual_max_pence"] == 6_900_000  # history stays readable, unchanged
    rates = (await admin.get("/v1/rates", params={"on": "2026-05-01", "geography": "national", "limit": 500})).json()
    assert next(r for r in rates["data"] if r["role_code"] == "clinical_pharmacist")["annual_max_pence"] == 7_000_000

    again = await admin.post(
        "/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "annual_max_pence": 1, "supersedes_id": first["id"]}
    )
    assert_problem(again, 409, "rate-period-already-superseded")


async def test_a_correction_must_match_role_and_geography(admin: httpx.AsyncClient) -> None:
    detail = (await admin.get("/v1/roles/pharmacy_technician")).json()
    other_role_period = detail["rate_periods"][0]["id"]
    wrong_role = await admin.post(
        "/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "supersedes_id": other_role_period}
    )
    assert_problem(wrong_role, 422, "invalid-supersession")
    cp = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    inner = next(p["id"] for p in cp["rate_periods"] if p["geography"] == "inner_london")
    wrong_geo = await admin.post("/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "supersedes_id": inner})
    assert_problem(wrong_geo, 422, "invalid-supersession")
    missing = await admin.post("/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "supersedes_id": 999_999})
    assert_problem(missing, 422, "invalid-supersession")


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"annual_max_pence": -1}, "annual_max_pence"),
        ({"annual_max_pence": 0}, "annual_max_pence"),
        ({"annual_max_pence": 65838.5}, "annual_max_pence"),
        ({"annual_max_pence": "6583800"}, "annual_max_pence"),
        ({"annual_max_pence": True}, "annual_max_pence"),
        ({"geography": "wales"}, "geography"),
        ({"effective_from": "2026-02-30"}, "effective_from"),
        ({"effective_from": 20260401}, "effective_from"),
        ({"effective_from": "1999-04-01"}, "effective_from"),
        ({"provenance": "rumoured"}, "provenance"),
        ({"source": ""}, "source"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_periods_are_refused_and_write_nothing(
    admin: httpx.AsyncClient, change: dict[str, object], loc: str
) -> None:
    before = (await admin.get("/v1/roles/clinical_pharmacist")).json()["rate_periods"]
    body = assert_problem(
        await admin.post("/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, **change}), 422, "validation-error"
    )
    assert any(loc in e["loc"] for e in body["errors"])
    assert (await admin.get("/v1/roles/clinical_pharmacist")).json()["rate_periods"] == before


async def test_malformed_json_is_a_problem(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/v1/roles/clinical_pharmacist/rates", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"][0] == "body"


async def test_period_for_unknown_role_is_404(admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.post("/v1/roles/astronaut/rates", json=NEW_PERIOD), 404, "role-not-found")


async def test_writes_need_the_admin(pcn: httpx.AsyncClient) -> None:
    assert_problem(await pcn.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD), 403, "forbidden")
    cap = {"unit": "posts", "max_below_threshold": 1, "max_at_or_above_threshold": 2, "source": "local decision"}
    assert_problem(await pcn.put("/v1/roles/clinical_pharmacist/caps/2026-27", json=cap), 403, "forbidden")


async def test_requests_without_the_gateway_are_refused(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/v1/roles")
    assert_problem(response, 401, "unauthenticated")
    assert "www-authenticate" in response.headers
    forged = {PRINCIPAL_HEADER: "admin;mallory;;", ISSUED_HEADER: str(int(time.time())), SIGNATURE_HEADER: "0" * 64}
    assert_problem(await anonymous.get("/v1/roles", headers=forged), 401, "unauthenticated")
    # A genuine header set captured from one request does not open another method or path.
    captured = signed_headers(ADMIN, method="GET", path="/v1/roles")
    assert_problem(
        await anonymous.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD, headers=captured),
        401,
        "unauthenticated",
    )
    assert (await anonymous.get("/v1/roles", headers=captured)).status_code == 200
    stale = signed_headers(ADMIN, method="GET", path="/v1/roles") | {ISSUED_HEADER: "1000"}
    assert_problem(await anonymous.get("/v1/roles", headers=stale), 401, "unauthenticated")
    assert_problem(
        await anonymous.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD, headers=forged),
        401,
        "unauthenticated",
    )


async def test_request_id_is_echoed_and_in_problems(pcn: httpx.AsyncClient) -> None:
    response = await pcn.get("/v1/roles/astronaut", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    assert response.json()["request_id"] == "trace-123"
    made = await pcn.get("/v1/roles/astronaut", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces" and len(made.headers["x-request-id"]) == 32
    # Behind the gateway the request id is the gateway's; a correlation id travels beside it.
    correlated = await pcn.get("/v1/roles", headers={"X-Correlation-ID": "corr-9"})
    assert correlated.headers["x-correlation-id"] == "corr-9" != correlated.headers["x-request-id"]


async def test_patch_needs_if_match(admin: httpx.AsyncClient) -> None:
    read = await admin.get("/v1/roles/care_coordinator")
    etag = read.headers["etag"]
    assert_problem(
        await admin.patch("/v1/roles/care_coordinator", json={"name": "Care co-ordinator"}),
        428,
        "precondition-required",
    )
    changed = await admin.patch(
        "/v1/roles/care_coordinator", json={"name": "Care co-ordinator"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Care co-ordinator"
    assert changed.headers["etag"] != etag
    stale = await admin.patch("/v1/roles/care_coordinator", json={"name": "Again"}, headers={"If-Match": etag})
    assert_problem(stale, 412, "precondition-failed")
    assert (await admin.get("/v1/roles/care_coordinator")).json()["name"] == "Care co-ordinator"


async def test_retiring_a_role_removes_it_from_claimable_lists(admin: httpx.AsyncClient) -> None:
    etag = (await admin.get("/v1/roles/care_coordinator")).headers["etag"]
    early = await admin.patch(
        "/v1/roles/care_coordinator", json={"retired_on": "2019-01-01"}, headers={"If-Match": etag}
    )
    assert_problem(early, 422, "invalid-role-dates")
    retired = await admin.patch(
        "/v1/roles/care_coordinator", json={"retired_on": "2026-03-31"}, headers={"If-Match": etag}
    )
    assert retired.status_code == 200, retired.text
    on_last_day = (await admin.get("/v1/roles", params={"claimable_on": "2026-03-31", "limit": 500})).json()["data"]
    after = (await admin.get("/v1/roles", params={"claimable_on": "2026-04-01", "limit": 500})).json()["data"]
    assert "care_coordinator" in {r["code"] for r in on_last_day}
    assert "care_coordinator" not in {r["code"] for r in after}


async def test_create_role(admin: httpx.AsyncClient) -> None:
    new = {
        "code": "Pharmacy_Assistant",
        "name": "Pharmacy assistant",
        "afc_band": "3",
        "staff_group": "clinical_support",
        "added_on": "2026-04-01",
        "description": "Supports the PCN pharmacy team.",
    }
    created = await admin.post("/v1/roles", json=new)
    assert created.status_code == 201, created.text
    assert (
        created.json()["code"] == "pharmacy_assistant" and created.headers["location"] == "/v1/roles/pharmacy_assistant"
    )
    assert_problem(await admin.post("/v1/roles", json=new), 409, "role-exists")
    assert_problem(await admin.post("/v1/roles", json={**new, "code": "bad code"}), 422, "validation-error")


async def test_caps_shares_supervision_and_templates_are_data(admin: httpx.AsyncClient) -> None:
    cap = {"unit": "posts", "max_below_threshold": 2, "max_at_or_above_threshold": 4, "source": "DES 2026/27"}
    created = await admin.put("/v1/roles/clinical_pharmacist/caps/2026-27", json=cap)
    assert created.status_code == 201 and created.json()["list_size_threshold"] == 100_000
    updated = await admin.put(
        "/v1/roles/clinical_pharmacist/caps/2026-27", json={**cap, "max_at_or_above_threshold": 5}
    )
    assert updated.status_code == 200 and updated.json()["max_at_or_above_threshold"] == 5
    assert_problem(
        await admin.put("/v1/roles/clinical_pharmacist/caps/2026-28", json=cap), 422, "invalid-financial-year"
    )

    share = {"effective_from": "2026-04-01", "share": "0.5", "max_share": "1", "rule": "local", "source": "DES 2026/27"}
    shares = await admin.post("/v1/roles/clinical_pharmacist/funding-shares", json=share)
    assert shares.status_code == 201 and shares.json()[-1]["share"] == "0.5"
    assert_problem(
        await admin.post("/v1/roles/clinical_pharmacist/funding-shares", json=share), 409, "funding-share-conflict"
    )
    assert_problem(
        await admin.post(
            "/v1/roles/clinical_pharmacist/funding-shares",
            json={**share, "effective_from": "2026-05-01", "share": "1.5"},
        ),
        422,
        "validation-error",
    )
    assert_problem(
        await admin.post(
            "/v1/roles/clinical_pharmacist/funding-shares",
            json={**share, "effective_from": "2026-05-01", "max_share": "0.25"},
        ),
        422,
        "invalid-funding-share",
    )

    supervision = {
        "supervisor_roles": ["GP"],
        "frequency": "weekly",
        "requirement": "Weekly debrief.",
        "source": "PCN policy",
    }
    assert (await admin.put("/v1/roles/clinical_pharmacist/supervision", json=supervision)).json()[
        "frequency"
    ] == "weekly"

    template = {
        "purpose": "Fewer GP medicine queries.",
        "responsibilities": ["Medication reviews"],
        "suggested_kpis": [
            {
                "name": "SMRs",
                "unit": "count",
                "direction": "higher_is_better",
                "frequency": "monthly",
                "measure": "Count of SMRs.",
            }
        ],
    }
    put = await admin.put("/v1/roles/clinical_pharmacist/job-plan-template", json=template)
    assert put.status_code == 200 and put.json()["supervision"]["frequency"] == "weekly"
    got = (await admin.get("/v1/roles/clinical_pharmacist/job-plan-template")).json()
    assert got["suggested_kpis"][0]["name"] == "SMRs"
    bad_kpi = {**template, "suggested_kpis": [{**template["suggested_kpis"][0], "frequency": "yearly"}]}  # type: ignore[dict-item]
    assert_problem(
        await admin.put("/v1/roles/clinical_pharmacist/job-plan-template", json=bad_kpi), 422, "validation-error"
    )


async def test_unknown_paths_and_methods_are_problems(pcn: httpx.AsyncClient) -> None:
    assert_problem(await pcn.get("/v1/nothing-here"), 404, "not-found")
    response = await pcn.delete("/v1/roles")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


async def test_idempotency_key_replays_instead_of_adding_twice(admin: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "add-cp-2026"}
    first = await admin.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD, headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = await admin.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    other = await admin.post(
        "/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "annual_max_pence": 1}, headers=headers
    )
    assert_problem(other, 422, "idempotency-key-reused")
    detail = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    assert sum(1 for p in detail["rate_periods"] if p["effective_from"] == "2026-04-01") == 1


async def test_a_failed_request_releases_its_key(admin: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    missing = await admin.post("/v1/roles/astronaut/rates", json=NEW_PERIOD, headers=headers)
    assert_problem(missing, 404, "role-not-found")
    # Same key, same body, same failure: nothing was recorded, the request simply runs again.
    assert_problem(
        await admin.post("/v1/roles/astronaut/rates", json=NEW_PERIOD, headers=headers), 404, "role-not-found"
    )


async def test_concurrent_retries_with_one_key_add_one_period(admin: httpx.AsyncClient) -> None:
    import asyncio

    headers = {"Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(admin.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD, headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    assert len(created) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["type"] == "/problems/idempotency-key-in-progress"
        elif r is not created[0]:
            assert r.json() == created[0].json()
    detail = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    assert sum(1 for p in detail["rate_periods"] if p["effective_from"] == "2026-04-01") == 1


@pytest.mark.parametrize(
    "path",
    ["/v1/roles/a%00b", "/v1/roles/a%00b/job-plan-template", "/v1/roles/bad-code", "/v1/roles/" + "x" * 65],
)
async def test_malformed_role_codes_are_422(pcn: httpx.AsyncClient, path: str) -> None:
    assert_problem(await pcn.get(path), 422, "validation-error")


async def test_control_characters_are_refused_everywhere(admin: httpx.AsyncClient) -> None:
    before = (await admin.get("/v1/roles/clinical_pharmacist")).json()
    assert_problem(
        await admin.post("/v1/roles/clinical_pharmacist/rates", json={**NEW_PERIOD, "source": "DES\u0000"}),
        422,
        "validation-error",
    )
    etag = (await admin.get("/v1/roles/clinical_pharmacist")).headers["etag"]
    assert_problem(
        await admin.patch(
            "/v1/roles/clinical_pharmacist", json={"description": "a\u0007b"}, headers={"If-Match": etag}
        ),
        422,
        "validation-error",
    )
    new = {"code": "x_role", "name": "X\u0000", "staff_group": "clinical", "added_on": "2026-04-01", "description": "d"}
    assert_problem(await admin.post("/v1/roles", json=new), 422, "validation-error")
    from arrs_kit.pagination import encode_cursor

    assert_problem(await admin.get("/v1/roles", params={"cursor": encode_cursor(["a\u0000"])}), 422, "invalid-cursor")
    assert (await admin.get("/v1/roles/clinical_pharmacist")).json() == before
    # Tabs and newlines are text.
    fine = await admin.patch(
        "/v1/roles/clinical_pharmacist", json={"description": "Line one.\nLine two."}, headers={"If-Match": etag}
    )
    assert fine.status_code == 200


async def test_rates_for_a_claim_month_use_its_first_day(pcn: httpx.AsyncClient) -> None:
    october = (await pcn.get("/v1/rates", params={"month": "2024-10", "geography": "national", "limit": 500})).json()
    september = (await pcn.get("/v1/rates", params={"month": "2024-09", "geography": "national", "limit": 500})).json()
    cp = {
        m: next(r for r in page["data"] if r["role_code"] == "clinical_pharmacist")
        for m, page in (("10", october), ("09", september))
    }
    assert cp["10"]["annual_max_pence"] == 6_583_800
    assert cp["09"]["annual_max_pence"] == 6_234_000
    assert_problem(await pcn.get("/v1/rates", params={"month": "2024-13"}), 422, "validation-error")
    assert_problem(await pcn.get("/v1/rates", params={"month": "2024-10", "on": "2024-10-05"}), 422, "validation-error")


async def test_racing_creates_of_one_role_make_it_once(admin: httpx.AsyncClient) -> None:
    import asyncio

    new = {
        "code": "pharmacy_assistant",
        "name": "P",
        "staff_group": "clinical",
        "added_on": "2026-04-01",
        "description": "d",
    }
    responses = await asyncio.gather(*(admin.post("/v1/roles", json=new) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
    assert all(r.json()["type"] == "/problems/role-exists" for r in responses if r.status_code == 409)


async def test_access_log_has_request_id_and_principal_and_no_secrets(
    pcn: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging

    from arrs_kit.logs import JsonFormatter

    with caplog.at_level(logging.INFO, logger="arrs.access"):
        await pcn.get("/v1/roles", params={"limit": 1}, headers={"X-Request-ID": "log-me-1"})
    records = [r for r in caplog.records if r.name == "arrs.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "log-me-1"
    assert line["principal"] == "test-pcn"
    assert (line["method"], line["path"], line["status"], line["service"]) == ("GET", "/v1/roles", 200, "roles")
    assert "signature" not in json.dumps(line).lower()


async def test_practice_systems_cannot_read_the_catalogue_and_only_admins_write(roles_app: Any) -> None:
    from arrs_kit.principal import Principal
    from arrs_kit.testing import asgi_client

    practice = Principal(kind="practice_system", client_id="ps-1", org_codes=("A81001",))
    async with asgi_client(roles_app, principal=practice) as client:
        for path in [
            "/v1/roles",
            "/v1/roles/clinical_pharmacist",
            "/v1/rates",
            "/v1/roles/clinical_pharmacist/job-plan-template",
        ]:
            assert_problem(await client.get(path), 403, "forbidden")
    for kind, orgs in [("icb", ("QHM",)), ("pcn", ("U12345",)), ("dashboard", ())]:
        async with asgi_client(
            roles_app, principal=Principal(kind=kind, client_id=f"{kind}-1", org_codes=orgs)
        ) as client:
            assert (await client.get("/v1/roles/clinical_pharmacist")).status_code == 200
            assert_problem(await client.post("/v1/roles/clinical_pharmacist/rates", json=NEW_PERIOD), 403, "forbidden")
