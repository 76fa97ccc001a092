"""Reading workload and list sizes back, on SQLite and PostgreSQL: pages, filters, CSV, and who may
read which practice (the budget service decides for ICBs, PCNs and dashboards)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from arrs_kit.testing import assert_problem

ROLES = ("gp", "nurse", "clinical_pharmacist")
WEEKS = ("2025-01-06", "2025-01-13", "2025-01-20")


def workload(code: str) -> str:
    return "".join(
        json.dumps(
            {
                "practice_code": code,
                "grain": "week",
                "period_start": week,
                "hcp_role": role,
                "national_category": "clinical_triage",
                "mode": "telephone",
                "status": "attended",
                "appointments": n,
            }
        )
        + "\n"
        for n, (week, role) in enumerate((w, r) for w in WEEKS for r in ROLES)
    )


@pytest.fixture
async def admin(client_as: Any, who: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client, after it has posted 9 weekly records and 2 monthly ones for each of A81001,
    A81003 and B82001, and list sizes for A81001 and B82001."""
    async with client_as(who.ADMIN) as client:
        for code in ("A81001", "A81003", "B82001"):
            posted = await client.post(
                "/v1/workload", content=workload(code), headers={"Content-Type": "application/x-ndjson"}
            )
            assert posted.status_code == 200, posted.text
            monthly = (
                "practice_code,grain,period_start,hcp_role,national_category,mode,status,appointments,minutes\n"
                f"{code},month,2025-01-01,gp,clinical_triage,telephone,attended,30,300\n"
                f"{code},month,2025-02-01,gp,clinical_triage,telephone,attended,31,\n"
            )
            assert (await client.post("/v1/workload", content=monthly, headers={"Content-Type": "text/csv"})).is_success
        sizes = [
            {"practice_code": code, "month": f"2025-{m:02d}", "registered_patients": 9000 + m}
            for code in ("A81001", "B82001")
            for m in range(1, 7)
        ]
        assert (await client.post("/v1/list-sizes", json=sizes)).status_code == 200
        yield client


async def test_pages_walk_every_record_in_key_order(admin: httpx.AsyncClient) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"practice_code": "a81001", "limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = (await admin.get("/v1/workload", params=params)).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 11
    keys = [(r["grain"], r["period_start"], r["hcp_role"]) for r in seen]
    assert keys == sorted(keys)
    assert seen[0] == {
        "practice_code": "A81001",
        "grain": "month",
        "period_start": "2025-01-01",
        "hcp_role": "gp",
        "national_category": "clinical_triage",
        "mode": "telephone",
        "status": "attended",
        "appointments": 30,
        "minutes": 300,
    }


async def test_filters_by_grain_and_period(admin: httpx.AsyncClient) -> None:
    params = {"practice_code": "A81001", "grain": "week", "from": "2025-01-13", "to": "2025-01-13"}
    page = (await admin.get("/v1/workload", params=params)).json()
    assert [(r["period_start"], r["hcp_role"]) for r in page["data"]] == [
        ("2025-01-13", "clinical_pharmacist"),
        ("2025-01-13", "gp"),
        ("2025-01-13", "nurse"),
    ]
    everything = (await admin.get("/v1/workload", params={"limit": 500})).json()["data"]
    assert {r["practice_code"] for r in everything} == {"A81001", "A81003", "B82001"} and len(everything) == 33
    problem = assert_problem(
        await admin.get("/v1/workload", params={"from": "2025-02-01", "to": "2025-01-01"}), 422, "invalid-range"
    )
    assert problem["detail"] == "from must not be after to."


async def test_csv_pages_carry_the_next_cursor_in_a_header(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/v1/workload", params={"practice_code": "A81001", "limit": 5, "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5 and rows[0]["appointments"] == "30" and rows[1]["minutes"] == ""
    rest = await admin.get(
        "/v1/workload", params={"practice_code": "A81001", "cursor": response.headers["x-next-cursor"], "limit": 500}
    )
    assert len(rest.json()["data"]) == 6
    sizes = await admin.get("/v1/list-sizes", params={"practice_code": "B82001"}, headers={"Accept": "text/csv"})
    assert sizes.text.splitlines()[:2] == ["practice_code,month,registered_patients", "B82001,2025-01,9001"]


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "WyJBODEwMDEiXQ", "WzEsMiwzLDQsNSw2LDdd", "WyJBIiwiYiIsIm5vdCBhIGRhdGUiLCJkIiwiZSIsImYiLCJnIl0"],
    ids=["garbage", "one-part", "integers", "bad-date"],
)
async def test_crafted_cursors_are_422(admin: httpx.AsyncClient, cursor: str) -> None:
    response = await admin.get("/v1/workload", params={"practice_code": "A81001", "cursor": cursor})
    assert_problem(response, 422, "invalid-cursor")


async def test_list_sizes_by_month(admin: httpx.AsyncClient) -> None:
    page = (
        await admin.get("/v1/list-sizes", params={"practice_code": "A81001", "from": "2025-02", "to": "2025-04"})
    ).json()
    assert page == {
        "data": [
            {"practice_code": "A81001", "month": "2025-02", "registered_patients": 9002},
            {"practice_code": "A81001", "month": "2025-03", "registered_patients": 9003},
            {"practice_code": "A81001", "month": "2025-04", "registered_patients": 9004},
        ],
        "next_cursor": None,
    }
    first = (await admin.get("/v1/list-sizes", params={"limit": 7})).json()
    second = (await admin.get("/v1/list-sizes", params={"limit": 7, "cursor": first["next_cursor"]})).json()
    assert [(r["practice_code"], r["month"]) for r in first["data"] + second["data"]][5:8] == [
        ("A81001", "2025-06"),
        ("B82001", "2025-01"),
        ("B82001", "2025-02"),
    ]
    assert second["next_cursor"] is None
    for month in ("2025-13", "2025-1", "2025-01-01"):
        assert_problem(await admin.get("/v1/list-sizes", params={"from": month}), 422, "validation-error")


@pytest.mark.parametrize(
    ("kind", "visible", "hidden"),
    [
        ("PRACTICE", ["A81001"], ["A81002", "B82001"]),  # its own practice only
        ("PCN", ["A81001", "A81002"], ["A81003", "B82001"]),  # U00001's practices
        ("ICB", ["A81001", "A81003"], ["B82001"]),  # QHM's
        ("DASHBOARD", ["A81003"], ["B82001"]),  # bound to QHM
        ("OTHER_ICB", ["B82001"], ["A81001"]),
    ],
)
async def test_who_reads_which_practice(
    admin: httpx.AsyncClient, client_as: Any, who: Any, kind: str, visible: list[str], hidden: list[str]
) -> None:
    async with client_as(getattr(who, kind)) as client:
        for code in visible:
            for path in ("/v1/workload", "/v1/list-sizes"):
                response = await client.get(path, params={"practice_code": code.lower()})
                assert response.status_code == 200, (path, code, response.text)
                assert {r["practice_code"] for r in response.json()["data"]} <= {code}
        for code in hidden:
            for path in ("/v1/workload", "/v1/list-sizes"):
                problem = assert_problem(
                    await client.get(path, params={"practice_code": code}), 404, "practice-not-found"
                )
                assert problem["detail"] == f"No practice {code}."
        for path in ("/v1/workload", "/v1/list-sizes"):
            assert_problem(await client.get(path), 422, "practice-code-required")
