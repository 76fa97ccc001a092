"""``POST /v1/rates/imports``: the ARRS annex table of maximum rates loaded as CSV in one call, all or
nothing, on SQLite and PostgreSQL (and the pure reading and planning without a database).

Seeded figures the tests build on (the migrated catalogue, checked through the API):
- dietitian, national, from 2025-04-01: 6,490,700 pence, estimated;
- clinical_pharmacist, national, from 2025-04-01: 6,697,200 pence, published; outer London 7,439,200;
- care_coordinator, national, from 2025-04-01: 3,615,000 pence, estimated; nothing from 2026;
- mental_health_practitioner_adult, national, band 8a, from 2025-04-01: 7,333,400 pence, estimated;
  band 7: 6,490,700.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit.principal import Principal
from arrs_kit.testing import asgi_client, assert_problem
from roles import rate_table
from roles.imports import plan
from roles.models import RatePeriod
from roles.rate_table import Key, parse

CSV = {"Content-Type": "text/csv"}
HEADER = "role_code,geography,afc_band,effective_from,annual_max_pence,provenance,source"


def table(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


async def load(client: httpx.AsyncClient, body: bytes, headers: dict[str, str] = CSV) -> httpx.Response:
    return await client.post("/v1/rates/imports", content=body, headers=headers)


async def periods(client: httpx.AsyncClient, role: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/roles/{role}")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["rate_periods"]
    return found


async def current(client: httpx.AsyncClient, role: str, geography: str, start: str, band: str | None = None) -> Any:
    """The current period of a key, or None."""
    return next(
        (
            p
            for p in await periods(client, role)
            if p["status"] == "current"
            and (p["geography"], p["afc_band"], p["effective_from"]) == (geography, band, start)
        ),
        None,
    )


async def in_force(client: httpx.AsyncClient, on: str) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    response = await client.get("/v1/rates", params={"on": on, "limit": 500})
    assert response.status_code == 200 and response.json()["next_cursor"] is None, response.text
    return {(r["role_code"], r["geography"], r["afc_band"]): r for r in response.json()["data"]}


async def period_counts(client: httpx.AsyncClient, *roles: str) -> dict[str, int]:
    return {role: len(await periods(client, role)) for role in roles}


async def test_a_table_of_new_periods_is_loaded_and_in_force(admin: httpx.AsyncClient) -> None:
    before = await in_force(admin, "2026-04-01")
    assert before[("care_coordinator", "national", None)]["annual_max_pence"] == 3_615_000  # the 2025/26 estimate
    body = table(
        "care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B",
        "CARE_COORDINATOR , outer_london ,, 2026-04-01 , 4300000 ,, DES 2026/27 Annex B",  # any case, trimmed
        "general_medical_practitioner,london,,2026-04-01,11000000,published,DES 2026/27 Annex B",
        "mental_health_practitioner_adult,national,Band 7,2026-04-01,6600000,estimated,Band 7 uplift of 1.7%",
    )
    response = await load(admin, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["created"], result["superseded"], result["unchanged"]) == (4, 4, 0, 0)
    assert [(p["row"], p["outcome"], p["supersedes_id"]) for p in result["periods"]] == [
        (1, "created", None),
        (2, "created", None),
        (3, "created", None),
        (4, "created", None),
    ]
    ids = [p["rate_period_id"] for p in result["periods"]]
    assert len(set(ids)) == 4

    rates = await in_force(admin, "2026-04-01")
    loaded = [
        ("care_coordinator", "national", None, 3_700_000, "published"),
        ("care_coordinator", "outer_london", None, 4_300_000, "published"),  # empty provenance: published
        ("general_medical_practitioner", "london", None, 11_000_000, "published"),
        ("mental_health_practitioner_adult", "national", "7", 6_600_000, "estimated"),  # "Band 7" → "7"
    ]
    for (role, geography, band, pence, provenance), period_id in zip(loaded, ids, strict=True):
        rate = rates[(role, geography, band)]
        assert (rate["effective_from"], rate["annual_max_pence"], rate["provenance"]) == (
            "2026-04-01",
            pence,
            provenance,
        )
        assert rate["rate_period_id"] == period_id
    # The day before, the 2025/26 figures are still in force; other keys are untouched.
    day_before = await in_force(admin, "2026-03-31")
    assert day_before[("care_coordinator", "national", None)]["annual_max_pence"] == 3_615_000
    assert rates[("care_coordinator", "inner_london", None)] == before[("care_coordinator", "inner_london", None)]
    new = await current(admin, "care_coordinator", "national", "2026-04-01")
    assert (new["id"], new["created_by"], new["source"]) == (ids[0], "test-admin", "DES 2026/27 Annex B")
    earlier = await current(admin, "care_coordinator", "national", "2025-04-01")
    assert earlier["effective_to"] == "2026-03-31"


async def test_the_same_table_again_changes_nothing(admin: httpx.AsyncClient) -> None:
    body = table(
        "care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B",
        "dietitian,national,,2025-04-01,6490700,published,DES 2025/26 Annex B",  # the seeded estimate's amount
        "clinical_pharmacist,national,,2025-04-01,6697200,published,DES 2025/26 Annex B",  # the published one
    )
    first = await load(admin, body)
    assert first.status_code == 200, first.text
    assert [p["outcome"] for p in first.json()["periods"]] == ["created", "unchanged", "unchanged"]
    counts = await period_counts(admin, "care_coordinator", "dietitian", "clinical_pharmacist")

    again = await load(admin, body)
    assert again.status_code == 200, again.text
    result = again.json()
    assert (result["rows"], result["created"], result["superseded"], result["unchanged"]) == (3, 0, 0, 3)
    # Each row names the period already holding it: the one created the first time, the seeded ones.
    assert [p["rate_period_id"] for p in result["periods"]] == [p["rate_period_id"] for p in first.json()["periods"]]
    assert await period_counts(admin, "care_coordinator", "dietitian", "clinical_pharmacist") == counts
    # A same amount changes nothing, whatever the provenance: the dietitian's estimate stays one.
    dietitian = await current(admin, "dietitian", "national", "2025-04-01")
    assert (dietitian["annual_max_pence"], dietitian["provenance"]) == (6_490_700, "estimated")
    assert dietitian["id"] == result["periods"][1]["rate_period_id"]


async def test_a_retry_with_the_same_idempotency_key_replays_the_first_answer(admin: httpx.AsyncClient) -> None:
    body = table("care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B")
    key = {**CSV, "Idempotency-Key": "annex-2026-27"}
    first = await admin.post("/v1/rates/imports", content=body, headers=key)
    assert first.status_code == 200 and first.json()["created"] == 1, first.text
    retry = await admin.post("/v1/rates/imports", content=body, headers=key)
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()  # the first answer (created: 1), not a second run's (unchanged: 1)
    assert len([p for p in await periods(admin, "care_coordinator") if p["effective_from"] == "2026-04-01"]) == 1
    other = table("care_coordinator,national,,2026-04-01,3800000,published,DES 2026/27 Annex B")
    assert_problem(await admin.post("/v1/rates/imports", content=other, headers=key), 422, "idempotency-key-reused")


async def test_a_table_with_bad_rows_is_refused_whole_every_problem_listed(admin: httpx.AsyncClient) -> None:
    roles = ("care_coordinator", "dietitian", "clinical_pharmacist", "mental_health_practitioner_adult")
    counts = await period_counts(admin, *roles)
    body = table(
        "care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B",  # row 1: good
        "physician_assistant,national,,2026-04-01,5000000,published,DES 2026/27 Annex B",  # 2: no such role
        "dietitian,london,,2026-04-01,6600000,published,DES 2026/27 Annex B",  # 3: not a dietitian geography
        "",  # a blank line: not a row, but a line
        'dietitian,national,,2026-4-01,"£66,000",published,DES 2026/27 Annex B',  # 4: date and amount
        "clinical_pharmacist,national,7,2026-04-01,6800000,published,DES 2026/27 Annex B",  # 5: not banded
        "mental_health_practitioner_adult,national,,2026-04-01,6600000,published,DES",  # 6: banded
        "mental_health_practitioner_adult,national,seven,2026-04-01,6600000,published,DES",  # 7: no band
        "care_coordinator,inner_london,,2026-04-01,0,guessed,x",  # 8: amount, provenance, source
        "care_coordinator,outer_london,,2026-04-01,4300000,published,Annex B",  # 9: good
        "care_coordinator,outer_london,,2026-04-01,4400000,published,Annex B",  # 10: row 9's key, other amount
        "care_coordinator,national,,2026-04-01,3700000",  # 11: two cells short
        "care_coordinator,national,,2026-04-01,37000.00,published,DES",  # 12: pounds, not pence
    )
    problem = assert_problem(await load(admin, body), 422, "rate-import-invalid")
    found = [(e["row"], e["line"], e["column"], e["code"]) for e in problem["errors"]]
    # Lines: the header is line 1, data row n is line n + 1 until the blank line 5, then line n + 2.
    assert found == [
        (2, 3, "role_code", "unknown-role"),
        (3, 4, "geography", "invalid-geography"),
        (4, 6, "effective_from", "invalid-date"),
        (4, 6, "annual_max_pence", "invalid-amount"),
        (5, 7, "afc_band", "rate-band-mismatch"),
        (6, 8, "afc_band", "rate-band-mismatch"),
        (7, 9, "afc_band", "invalid-band"),
        (8, 10, "annual_max_pence", "invalid-amount"),
        (8, 10, "source", "invalid-source"),
        (8, 10, "provenance", "invalid-provenance"),
        (10, 12, "annual_max_pence", "duplicate-key"),
        (11, 13, None, "wrong-cell-count"),
        (12, 14, "annual_max_pence", "invalid-amount"),
    ]
    assert problem["error_count"] == 13
    assert all(e["detail"] and e["msg"] == e["detail"] for e in problem["errors"])
    assert problem["errors"][0]["loc"] == ["body", 2, "role_code"]
    assert "Row 9" in problem["errors"][10]["detail"]
    # Nothing was written, not even the good rows 1 and 9.
    assert await period_counts(admin, *roles) == counts
    assert await current(admin, "care_coordinator", "national", "2026-04-01") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "role_code,geography,effective_from,amount,source",
            [("amount", "unknown-column"), ("annual_max_pence", "missing-column")],
        ),
        ("role_code,geography,effective_from,annual_max_pence,source,Source", [("source", "duplicate-column")]),
        ("", [(None, "missing-header")]),
    ],
)
async def test_a_table_needs_its_header(admin: httpx.AsyncClient, header: str, expected: list[Any]) -> None:
    body = (header + "\ncare_coordinator,national,2026-04-01,3700000,DES\n").encode() if header else b"\n\n"
    problem = assert_problem(await load(admin, body), 422, "rate-import-invalid")
    assert [(e["column"], e["code"]) for e in problem["errors"]] == expected
    assert {e["row"] for e in problem["errors"]} == {0}


async def test_another_amount_for_a_published_period_refuses_the_whole_table(admin: httpx.AsyncClient) -> None:
    roles = ("care_coordinator", "dietitian", "clinical_pharmacist")
    counts = await period_counts(admin, *roles)
    published = await current(admin, "clinical_pharmacist", "national", "2025-04-01")
    outer = await current(admin, "clinical_pharmacist", "outer_london", "2025-04-01")
    assert (published["annual_max_pence"], published["provenance"]) == (6_697_200, "published")
    assert (outer["annual_max_pence"], outer["provenance"]) == (7_439_200, "published")
    body = table(
        "care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B",  # would be created
        "dietitian,national,,2025-04-01,6600000,published,DES 2025/26 Annex B",  # would supersede an estimate
        "clinical_pharmacist,national,,2025-04-01,6700000,published,A draft table",  # 6,697,200 + 2,800
        "clinical_pharmacist,outer_london,,2025-04-01,7439200,published,A draft table",  # the same: fine
        "clinical_pharmacist,inner_london,,2025-04-01,7700000,published,A draft table",
    )
    inner = await current(admin, "clinical_pharmacist", "inner_london", "2025-04-01")
    problem = assert_problem(await load(admin, body), 409, "rate-import-conflict")
    assert problem["conflicts"] == [
        {
            "row": 3,
            "line": 4,
            "role_code": "clinical_pharmacist",
            "geography": "national",
            "afc_band": None,
            "effective_from": "2025-04-01",
            "existing_rate_period_id": published["id"],
            "existing_annual_max_pence": 6_697_200,
            "file_annual_max_pence": 6_700_000,
        },
        {
            "row": 5,
            "line": 6,
            "role_code": "clinical_pharmacist",
            "geography": "inner_london",
            "afc_band": None,
            "effective_from": "2025-04-01",
            "existing_rate_period_id": inner["id"],
            "existing_annual_max_pence": 7_754_500,
            "file_annual_max_pence": 7_700_000,
        },
    ]
    # Nothing was written: no new period, the estimate not superseded, the published figure unchanged.
    assert await period_counts(admin, *roles) == counts
    assert await current(admin, "care_coordinator", "national", "2026-04-01") is None
    dietitian = await current(admin, "dietitian", "national", "2025-04-01")
    assert (dietitian["annual_max_pence"], dietitian["superseded_by_id"]) == (6_490_700, None)
    rates = await in_force(admin, "2025-06-01")
    assert rates[("clinical_pharmacist", "national", None)]["annual_max_pence"] == 6_697_200


async def test_an_import_row_supersedes_an_estimate_with_another_amount(admin: httpx.AsyncClient) -> None:
    estimate = await current(admin, "dietitian", "national", "2025-04-01")
    assert (estimate["annual_max_pence"], estimate["provenance"]) == (6_490_700, "estimated")
    body = table("dietitian,national,,2025-04-01,6600000,published,DES 2025/26 Annex B")  # 6,490,700 + 109,300
    response = await load(admin, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["created"], result["superseded"], result["unchanged"]) == (1, 0, 1, 0)
    [row] = result["periods"]
    assert (row["outcome"], row["supersedes_id"]) == ("superseded", estimate["id"])

    history = {p["id"]: p for p in await periods(admin, "dietitian")}
    old, new = history[estimate["id"]], history[row["rate_period_id"]]
    assert (old["status"], old["superseded_by_id"], old["annual_max_pence"]) == ("superseded", new["id"], 6_490_700)
    assert (new["status"], new["supersedes_id"]) == ("current", estimate["id"])
    assert (new["effective_from"], new["annual_max_pence"], new["provenance"]) == ("2025-04-01", 6_600_000, "published")
    rate = (await in_force(admin, "2025-06-01"))[("dietitian", "national", None)]
    assert (rate["annual_max_pence"], rate["provenance"], rate["rate_period_id"]) == (6_600_000, "published", new["id"])
    assert new["annual_max_pence"] - old["annual_max_pence"] == 109_300


async def test_a_banded_row_supersedes_the_estimate_of_its_band(admin: httpx.AsyncClient) -> None:
    role = "mental_health_practitioner_adult"
    band_8a = await current(admin, role, "national", "2025-04-01", "8a")
    band_7 = await current(admin, role, "national", "2025-04-01", "7")
    assert (band_8a["annual_max_pence"], band_8a["provenance"]) == (7_333_400, "estimated")
    assert band_7["annual_max_pence"] == 6_490_700
    body = table(f"{role},national,Band 8A,2025-04-01,7400000,published,DES 2025/26 Annex B")  # 7,333,400 + 66,600
    response = await load(admin, body)
    assert response.status_code == 200, response.text
    [row] = response.json()["periods"]
    assert (row["outcome"], row["supersedes_id"]) == ("superseded", band_8a["id"])
    new = await current(admin, role, "national", "2025-04-01", "8a")
    assert (new["id"], new["annual_max_pence"], new["afc_band"]) == (row["rate_period_id"], 7_400_000, "8a")
    rates = await in_force(admin, "2025-04-01")
    assert rates[(role, "national", "8a")]["annual_max_pence"] == 7_400_000
    assert rates[(role, "national", "7")]["annual_max_pence"] == 6_490_700  # another band: untouched
    assert (await current(admin, role, "national", "2025-04-01", "7"))["id"] == band_7["id"]


async def test_racing_imports_supersede_an_estimate_once(admin: httpx.AsyncClient) -> None:
    # Sync endpoints run in the thread pool, so these imports hold separate connections at once; the
    # role locks, taken in code order whatever the row order, serialise them without a deadlock.
    estimate = await current(admin, "dietitian", "national", "2025-04-01")

    def racing(i: int) -> bytes:
        rows = [
            f"dietitian,national,,2025-04-01,{6_600_000 + i},published,Annex B",
            "care_coordinator,national,,2026-04-01,3700000,published,Annex B",
        ]
        return table(*(rows if i % 2 else rows[::-1]))

    responses = await asyncio.gather(*(load(admin, racing(i)) for i in range(6)))
    # The first supersedes the estimate with a published figure; every later one differs from it.
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5, [r.text for r in responses]
    successor = [p for p in await periods(admin, "dietitian") if p["supersedes_id"] == estimate["id"]]
    assert len(successor) == 1 and successor[0]["provenance"] == "published"
    assert len([p for p in await periods(admin, "care_coordinator") if p["effective_from"] == "2026-04-01"]) == 1


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/csv; charset=latin-1", None])
async def test_a_body_that_is_not_csv_is_415(admin: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = table("care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B")
    response = await admin.post("/v1/rates/imports", content=body, headers=headers)
    assert_problem(response, 415, "unsupported-media-type")
    assert response.headers["accept-post"].startswith("text/csv")
    assert await current(admin, "care_coordinator", "national", "2026-04-01") is None
    utf8 = await admin.post("/v1/rates/imports", content=body, headers={"Content-Type": "text/csv; charset=UTF-8"})
    assert utf8.status_code == 200, utf8.text


async def test_a_table_too_large_is_413(admin: httpx.AsyncClient) -> None:
    row = "care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B"
    too_many = table(*[row] * (rate_table.MAX_ROWS + 1))
    assert len(too_many) < rate_table.MAX_BYTES
    assert_problem(await admin.post("/v1/rates/imports", content=too_many, headers=CSV), 413, "payload-too-large")
    too_big = table(f"care_coordinator,national,,2026-04-01,3700000,published,{'x' * rate_table.MAX_BYTES}")
    assert_problem(await admin.post("/v1/rates/imports", content=too_big, headers=CSV), 413, "payload-too-large")
    assert await current(admin, "care_coordinator", "national", "2026-04-01") is None


async def test_only_an_admin_loads_a_table(pcn: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    body = table("care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B")
    assert_problem(await pcn.post("/v1/rates/imports", content=body, headers=CSV), 403, "forbidden")
    # The kind is refused before the body is looked at: a PCN's JSON is 403 too, not 415.
    assert_problem(await pcn.post("/v1/rates/imports", json={"rows": []}), 403, "forbidden")
    assert await current(admin, "care_coordinator", "national", "2026-04-01") is None


async def test_an_import_records_the_admins_display_name(roles_app: FastAPI) -> None:
    named = Principal(kind="admin", client_id="cl_import0login", name="NHS England ARRS team")
    body = table("care_coordinator,national,,2026-04-01,3700000,published,DES 2026/27 Annex B")
    async with asgi_client(roles_app, principal=named) as client:
        response = await client.post("/v1/rates/imports", content=body, headers=CSV)
        assert response.status_code == 200, response.text
        period = await current(client, "care_coordinator", "national", "2026-04-01")
    assert period["created_by"] == "NHS England ARRS team"


# Reading and planning, without a database.


def test_parse_reads_a_bom_any_header_case_and_quoted_cells_over_lines() -> None:
    body = (
        "\ufeff Annual_Max_Pence ,SOURCE,role_code,geography,effective_from\r\n"
        '3700000,"DES 2026/27,\nAnnex B",care_coordinator,national,2026-04-01\r\n'
        "\r\n"
        "4300000,Annex B,care_coordinator,outer_london,2026-04-01\r\n"
    ).encode()
    parsed = parse(body)
    assert parsed.errors == []
    rows = parsed.rows()
    assert [(r.row, r.line, r.geography, r.annual_max_pence, r.afc_band, r.provenance) for r in rows] == [
        (1, 2, "national", 3_700_000, None, "published"),
        (2, 5, "outer_london", 4_300_000, None, "published"),  # the quoted cell spans lines 2-3, line 4 is blank
    ]
    assert rows[0].source == "DES 2026/27,\nAnnex B"
    assert rows[0].effective_from == date(2026, 4, 1)


def test_parse_reports_text_that_is_not_utf8_or_not_csv() -> None:
    [latin] = parse(HEADER.encode() + b"\ncare_coordinator,national,,2026-04-01,1,published,Caf\xe9\n").errors
    assert (latin.row, latin.line, latin.code) == (0, 2, "not-utf-8")
    broken = parse(table("care_coordinator,national,,2026-04-01,1,published,DES", 'x,"unterminated'))
    assert [(e.row, e.line, e.code) for e in broken.errors] == [(2, 3, "malformed-csv")]
    assert len(broken.rows()) == 1


def _period(id: int, pence: int, provenance: str, start: date = date(2025, 4, 1)) -> RatePeriod:
    return RatePeriod(
        id=id,
        role_code="dietitian",
        geography="national",
        afc_band=None,
        effective_from=start,
        annual_max_pence=pence,
        provenance=provenance,
        source="s",
        created_at=datetime.now(UTC),
        created_by="seed",
    )


def test_plan_creates_keeps_supersedes_and_finds_conflicts() -> None:
    held: dict[Key, RatePeriod] = {
        ("dietitian", "national", None, date(2025, 4, 1)): _period(1, 6_490_700, "estimated"),
        ("dietitian", "national", None, date(2024, 10, 1)): _period(2, 6_379_200, "published", date(2024, 10, 1)),
    }
    rows = parse(
        table(
            "dietitian,national,,2025-04-01,6600000,published,Annex",  # estimate, other amount: supersede 1
            "dietitian,national,,2024-10-01,6379200,estimated,Annex",  # same amount: unchanged, any provenance
            "dietitian,national,,2026-04-01,6700000,published,Annex",  # new key: created
            "dietitian,national,,2026-04-01,6700000,published,Annex",  # the same again: unchanged
        )
    ).rows()
    steps, conflicts = plan(rows, held)
    assert conflicts == []
    assert [(s.outcome, s.period_id, s.same_as) for s in steps] == [
        ("superseded", 1, None),
        ("unchanged", 2, None),
        ("created", None, None),
        ("unchanged", None, 2),
    ]
    _, conflicts = plan(parse(table("dietitian,national,,2024-10-01,6379300,published,Annex")).rows(), held)
    assert [(c["row"], c["existing_rate_period_id"], c["file_annual_max_pence"]) for c in conflicts] == [
        (1, 2, 6_379_300)
    ]
