"""Posting workload and list sizes, on SQLite and PostgreSQL: every format (the published GPAD CSV in
several releases' shapes too), every rule with its line, all or nothing, replace semantics and
counts, scope, idempotent retries, and bodies large enough to stream through the signature check."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrs_kit.testing import GatewaySigner, assert_problem, signed_headers

NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}
RECORD: dict[str, Any] = {
    "practice_code": "A81001",
    "grain": "week",
    "period_start": "2025-01-06",
    "hcp_role": "gp",
    "national_category": "general_consultation_routine",
    "mode": "face_to_face",
    "status": "attended",
    "appointments": 120,
    "minutes": 1200,
}


def record(**changes: Any) -> dict[str, Any]:
    return {**RECORD, **changes}


def ndjson(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def stored(url: str, sql: str = "SELECT count(*) FROM workload") -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def count(url: str, table: str = "workload") -> int:
    return int(stored(url, f"SELECT count(*) FROM {table}")[0][0])


def values(url: str) -> dict[tuple[str, ...], tuple[int, int | None]]:
    rows = stored(
        url,
        "SELECT practice_code, grain, period_start, hcp_role, national_category, mode, status, appointments, minutes "
        "FROM workload",
    )
    return {tuple(str(v) for v in row[:7]): (row[7], row[8]) for row in rows}


@pytest.fixture
async def practice(client_as: Any, who: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The practice system of A81001."""
    async with client_as(who.PRACTICE) as client:
        yield client


@pytest.fixture
async def admin(client_as: Any, who: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_as(who.ADMIN) as client:
        yield client


async def test_every_platform_format(practice: httpx.AsyncClient, evaluation_url: str) -> None:
    weeks = [record(period_start=f"2025-01-{day:02d}") for day in (6, 13, 20)]
    as_json = await practice.post("/v1/workload", json=weeks)
    assert as_json.status_code == 200, as_json.text
    assert as_json.json() == {"received": 3, "inserted": 3, "replaced": 0}
    as_ndjson = await practice.post("/v1/workload", content=ndjson([record(hcp_role="nurse")]), headers=NDJSON)
    assert as_ndjson.json() == {"received": 1, "inserted": 1, "replaced": 0}
    table = (
        "practice_code,grain,period_start,hcp_role,national_category,mode,status,appointments,minutes\r\n"
        "A81001,month,2025-01-01,clinical_pharmacist,Structured Medication Review,Telephone,Attended,40,\r\n"
        "a81001,month,2025-01-01,clinical_pharmacist,structured_medication_review,telephone,DNA,3,30\r\n"
    )
    as_csv = await practice.post("/v1/workload", content=table, headers={"Content-Type": "text/csv; charset=utf-8"})
    assert as_csv.json() == {"received": 2, "inserted": 2, "replaced": 0}
    got = values(evaluation_url)
    assert len(got) == 6
    smr = ("A81001", "month", "2025-01-01", "clinical_pharmacist", "structured_medication_review", "telephone")
    assert got[(*smr, "attended")] == (40, None) and got[(*smr, "dna")] == (3, 30)
    uploads = stored(evaluation_url, "SELECT kind, format, received, inserted, uploaded_by FROM workload_upload")
    assert sorted(tuple(u) for u in uploads) == [
        ("workload", "csv", 2, 2, "EMIS feed"),
        ("workload", "json", 3, 3, "EMIS feed"),
        ("workload", "ndjson", 1, 1, "EMIS feed"),
    ]


GPAD_2023 = (
    "APPOINTMENT_MONTH_START_DATE,GP_CODE,GP_NAME,SUPPLIER,PCN_CODE,PCN_NAME,SUB_ICB_LOCATION_CODE,"
    "SUB_ICB_LOCATION_NAME,ICB_ONS_CODE,ICB_NAME,REGION_CODE,REGION_NAME,HCP_TYPE,APPT_MODE,NATIONAL_CATEGORY,"
    "TIME_BETWEEN_BOOK_AND_APPT,COUNT_OF_APPOINTMENTS,APPT_STATUS\r\n"
    '01OCT2025,A81001,"DR SMITH, JONES & PARTNERS",EMIS,U00001,RIVERSIDE PCN,00L,NHS North,E54000050,NENC ICB,'
    "Y63,North East,GP,Face-to-Face,General Consultation Routine,Same Day,40,Attended\r\n"
    '01OCT2025,A81001,"DR SMITH, JONES & PARTNERS",EMIS,U00001,RIVERSIDE PCN,00L,NHS North,E54000050,NENC ICB,'
    "Y63,North East,GP,Face-to-Face,General Consultation Routine,2 to 7 Days,25,Attended\r\n"
    '01OCT2025,A81001,"DR SMITH, JONES & PARTNERS",EMIS,U00001,RIVERSIDE PCN,00L,NHS North,E54000050,NENC ICB,'
    "Y63,North East,Other Practice staff,Telephone,Clinical Triage,Same Day,12,DNA\r\n"
)
# A later release: other column order, codes dropped, one more column, labels in other cases, a
# practice renamed within the file (rows differing only by a name are added up too).
GPAD_2025 = (
    "REGION_NAME,ICB_NAME,SUB_ICB_LOCATION_NAME,PCN_NAME,GP_NAME,GP_CODE,SUPPLIER,APPOINTMENT_MONTH_START_DATE,"
    "APPT_STATUS,HCP_TYPE,APPT_MODE,NATIONAL_CATEGORY,TIME_BETWEEN_BOOK_AND_APPT,COUNT_OF_APPOINTMENTS,"
    "DATA_QUALITY_NOTE\n"
    "North East,NENC ICB,NHS North,RIVERSIDE PCN,SMITH SURGERY,A81001,TPP,01nov2025,attended,gp,FACE-TO-FACE,"
    "GENERAL CONSULTATION ROUTINE,1 Day,7,\n"
    "North East,NENC ICB,NHS North,RIVERSIDE PCN,SMITH & JONES SURGERY,A81001,TPP,01nov2025,attended,gp,"
    "face-to-face,general consultation routine,More than 28 Days,3,late\n"
    "North East,NENC ICB,NHS North,RIVERSIDE PCN,SMITH SURGERY,a81001,TPP,01NOV2025,Unknown,UNKNOWN,Video/Online,"
    "Unmapped,Unknown / Data Quality,1,\n"
    "\n"
)


async def test_the_published_gpad_csv_in_two_releases_shapes(practice: httpx.AsyncClient, evaluation_url: str) -> None:
    october = await practice.post("/v1/workload", content=GPAD_2023, headers=CSV)
    assert october.json() == {"received": 3, "inserted": 2, "replaced": 0}, october.text
    november = await practice.post("/v1/workload", content=GPAD_2025, headers=CSV)
    assert november.json() == {"received": 3, "inserted": 2, "replaced": 0}, november.text
    routine = ("A81001", "month", "{}", "gp", "general_consultation_routine", "face_to_face", "attended")
    got = values(evaluation_url)
    assert got[tuple(p.format("2025-10-01") for p in routine)] == (65, None)  # 40 + 25 over booking times
    assert got[tuple(p.format("2025-11-01") for p in routine)] == (10, None)  # 7 + 3 under two names
    triage = ("A81001", "month", "2025-10-01", "other_practice_staff", "clinical_triage", "telephone", "dna")
    assert got[triage] == (12, None)
    assert ("A81001", "month", "2025-11-01", "unknown", "unmapped", "video_online", "unknown") in got
    assert stored(evaluation_url, "SELECT DISTINCT format FROM workload_upload")[0][0] == "gpad_csv"
    # The same month again: the sums replace what was stored, whatever they were.
    again = await practice.post("/v1/workload", content=GPAD_2023, headers=CSV)
    assert again.json() == {"received": 3, "inserted": 0, "replaced": 2}
    assert count(evaluation_url) == 4


async def test_replace_semantics_and_counts(practice: httpx.AsyncClient, evaluation_url: str) -> None:
    first = [record(), record(hcp_role="nurse"), record(status="dna", appointments=4)]
    assert (await practice.post("/v1/workload", json=first)).json() == {"received": 3, "inserted": 3, "replaced": 0}
    second = [record(appointments=130), record(hcp_role="nurse"), record(mode="telephone")]
    answer = await practice.post("/v1/workload", json=second)
    # replaced counts keys that existed, whether or not the value changed
    assert answer.json() == {"received": 3, "inserted": 1, "replaced": 2}
    got = values(evaluation_url)
    assert got[tuple(str(v) for v in list(record().values())[:7])] == (130, 1200)
    assert len(got) == 4
    resubmitted = await practice.post("/v1/workload", json=second)
    assert resubmitted.json() == {"received": 3, "inserted": 0, "replaced": 3}
    assert len(values(evaluation_url)) == 4


async def test_within_a_batch_the_last_record_of_a_key_wins(practice: httpx.AsyncClient, evaluation_url: str) -> None:
    batch = [record(appointments=1), record(hcp_role="nurse"), record(appointments=2, minutes=None), record()]
    answer = await practice.post("/v1/workload", content=ndjson(batch), headers=NDJSON)
    assert answer.json() == {"received": 4, "inserted": 2, "replaced": 0}
    assert values(evaluation_url)[tuple(str(v) for v in list(record().values())[:7])] == (120, 1200)
    batch = [record(appointments=5), record(hcp_role="nurse"), record(appointments=6)]
    answer = await practice.post("/v1/workload", json=batch)
    assert answer.json() == {"received": 3, "inserted": 0, "replaced": 2}
    assert values(evaluation_url)[tuple(str(v) for v in list(record().values())[:7])] == (6, 1200)


async def test_one_bad_record_refuses_the_batch_by_line_and_field(
    practice: httpx.AsyncClient, evaluation_url: str
) -> None:
    batch = [record(), record(period_start="2025-01-07"), record(), record(hcp_role="wizard", appointments=-2)]
    body = "[\n" + ",\n".join(json.dumps(r) for r in batch) + "\n]"
    problem = assert_problem(
        await practice.post("/v1/workload", content=body, headers={"Content-Type": "application/json"}),
        422,
        "invalid-records",
    )
    assert problem["invalid_records"] == 2 and problem["received"] == 4
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (3, "period_start"),
        (5, "hcp_role"),
        (5, "appointments"),
    ]
    assert problem["errors"][0]["loc"] == ["body", 3, "period_start"]
    assert count(evaluation_url) == 0 and count(evaluation_url, "workload_upload") == 0
    lines = ndjson([record()]) + "{not json}\n" + ndjson([record(grain="fortnight")])
    problem = assert_problem(await practice.post("/v1/workload", content=lines, headers=NDJSON), 422, "invalid-records")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [(2, "record"), (3, "grain")]
    table = "practice_code,grain,period_start,hcp_role,national_category,mode,status,appointments\n"
    table += "A81001,week,2025-01-06,gp,clinical_triage,telephone,attended,1\nA81001,week,2025-01-06,gp,x,y,z,1\n"
    problem = assert_problem(await practice.post("/v1/workload", content=table, headers=CSV), 422, "invalid-records")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (3, "national_category"),
        (3, "mode"),
        (3, "status"),
    ]
    assert count(evaluation_url) == 0


async def test_at_most_100_bad_records_are_listed(practice: httpx.AsyncClient, evaluation_url: str) -> None:
    batch = [record(period_start=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}", appointments=-1) for n in range(150)]
    problem = assert_problem(
        await practice.post("/v1/workload", content=ndjson([record(), *batch]), headers=NDJSON), 422, "invalid-records"
    )
    assert problem["invalid_records"] == 150 and problem["received"] == 151
    assert len({e["line"] for e in problem["errors"]}) == 100
    assert min(e["line"] for e in problem["errors"]) == 2
    assert count(evaluation_url) == 0


@pytest.mark.parametrize(
    "body",
    ["", "[", '{"practice_code": "A81001"}', "practice_code,grain\nA81001,week\n"],
    ids=["empty", "unclosed", "object", "csv-as-json"],
)
async def test_a_body_that_is_no_array_is_refused(practice: httpx.AsyncClient, body: str) -> None:
    response = await practice.post("/v1/workload", content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "invalid-records")


async def test_an_empty_csv_needs_its_header_and_an_empty_ndjson_is_nothing(practice: httpx.AsyncClient) -> None:
    problem = assert_problem(await practice.post("/v1/workload", content="", headers=CSV), 422, "invalid-records")
    assert problem["errors"][0]["field"] == "header"
    nothing = await practice.post("/v1/workload", content="\n\n", headers=NDJSON)
    assert nothing.json() == {"received": 0, "inserted": 0, "replaced": 0}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "text/csv; charset=latin-1", None])
async def test_unsupported_content_types_are_415(practice: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await practice.post("/v1/workload", content=ndjson([record()]), headers=headers)
    assert_problem(response, 415, "unsupported-media-type")
    assert "text/csv" in response.headers["accept-post"]


async def test_a_practice_system_posts_for_its_own_practices_only(
    practice: httpx.AsyncClient, evaluation_url: str
) -> None:
    batch = [record(), record(practice_code="B82001"), record(hcp_role="bad"), record(practice_code="a81002")]
    response = await practice.post("/v1/workload", content=ndjson(batch), headers=NDJSON)
    problem = assert_problem(response, 403, "practice-out-of-scope")
    assert problem["lines"] == [2, 4] and problem["out_of_scope_records"] == 2
    assert "B82001" not in problem["detail"]
    sizes = [{"practice_code": "B82001", "month": "2025-10", "registered_patients": 1}]
    assert_problem(await practice.post("/v1/list-sizes", json=sizes), 403, "practice-out-of-scope")
    assert count(evaluation_url) == 0 and count(evaluation_url, "list_size") == 0


@pytest.mark.parametrize("kind", ["ICB", "PCN", "DASHBOARD"])
async def test_only_practice_systems_and_admins_post(client_as: Any, who: Any, kind: str, evaluation_url: str) -> None:
    async with client_as(getattr(who, kind)) as client:
        assert_problem(await client.post("/v1/workload", json=[record()]), 403, "forbidden")
        assert_problem(await client.post("/v1/list-sizes", json=[]), 403, "forbidden")
    assert count(evaluation_url) == 0


async def test_an_admin_posts_for_any_practice(admin: httpx.AsyncClient, evaluation_url: str) -> None:
    batch = [record(practice_code=code) for code in ("A81001", "B82001", "Z99999")]
    assert (await admin.post("/v1/workload", json=batch)).json() == {"received": 3, "inserted": 3, "replaced": 0}


async def test_an_idempotent_retry_replays_and_another_body_is_refused(
    practice: httpx.AsyncClient, evaluation_url: str
) -> None:
    body = ndjson([record(), record(hcp_role="nurse")])
    key = {"Idempotency-Key": "upload-2025-01-06", **NDJSON}
    first = await practice.post("/v1/workload", content=body, headers=key)
    again = await practice.post("/v1/workload", content=body, headers=key)
    assert first.json() == again.json() == {"received": 2, "inserted": 2, "replaced": 0}
    assert again.headers["idempotent-replayed"] == "true"
    assert count(evaluation_url, "workload_upload") == 1
    assert_problem(
        await practice.post("/v1/workload", content=body + ndjson([record()]), headers=key),
        422,
        "idempotency-key-reused",
    )
    as_json = await practice.post("/v1/workload", content=body, headers={**key, "Content-Type": "application/json"})
    assert_problem(as_json, 422, "idempotency-key-reused")  # the same bytes as another format is another request
    # A refused batch does not spend its key: the corrected batch may use it.
    fixed_key = {"Idempotency-Key": "upload-2", **NDJSON}
    bad = await practice.post("/v1/workload", content=ndjson([record(status="x")]), headers=fixed_key)
    assert_problem(bad, 422, "invalid-records")
    fixed = await practice.post("/v1/workload", content=ndjson([record(status="dna")]), headers=fixed_key)
    assert fixed.json() == {"received": 1, "inserted": 1, "replaced": 0}


async def test_a_key_still_in_flight_is_409_and_nothing_is_written(
    practice: httpx.AsyncClient, evaluation_url: str, who: Any
) -> None:
    body = json.dumps([record()]).encode()
    # The fingerprint of an upload: method, path and media type, then the exact bytes (service._Hashed).
    same = hashlib.sha256(b"POST\n/v1/workload\napplication/json\n" + body).hexdigest()
    engine = create_engine(evaluation_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for key, request_hash in (("busy", same), ("other", "0" * 64)):
            conn.execute(
                text(
                    "INSERT INTO idempotency_key (scope, key, request_hash, state, created_at, lease_until) "
                    "VALUES (:scope, :key, :hash, 'in_progress', :now, :until)"
                ),
                {
                    "scope": f"{who.PRACTICE.client_id}:post_workload",
                    "key": key,
                    "hash": request_hash,
                    "now": now,
                    "until": now + timedelta(minutes=5),
                },
            )
    engine.dispose()
    headers = {"Content-Type": "application/json"}
    busy = await practice.post("/v1/workload", content=body, headers={**headers, "Idempotency-Key": "busy"})
    assert_problem(busy, 409, "idempotency-key-in-progress")
    other = await practice.post("/v1/workload", content=body, headers={**headers, "Idempotency-Key": "other"})
    assert_problem(other, 422, "idempotency-key-reused")
    assert count(evaluation_url) == 0 and count(evaluation_url, "workload_upload") == 0


def rechunked(app: ASGIApp, size: int) -> ASGIApp:
    """``app`` receiving each request body in pieces of ``size`` bytes, as a server hands them on."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        pieces: list[Message] = []

        async def pieced() -> Message:
            while not pieces:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                body, more = message.get("body", b""), message.get("more_body", False)
                parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
                pieces.extend(
                    {"type": "http.request", "body": part, "more_body": more or n < len(parts) - 1}
                    for n, part in enumerate(parts)
                )
            return pieces.pop(0)

        await app(scope, pieced, send)

    return wrapped


async def test_a_body_over_a_mebibyte_streams_in_pieces_and_is_merged(
    evaluation_app: FastAPI, evaluation_url: str, who: Any
) -> None:
    body = "".join(
        json.dumps(record(period_start=f"{year}-{month:02d}-01", grain="month", hcp_role=role)) + "\n"
        for year in range(2000, 2100)
        for month in range(1, 13)
        for role in ("gp", "nurse", "unknown", "clinical_pharmacist", "paramedic")
    ).encode()
    assert len(body) > 1_048_576
    transport = httpx.ASGITransport(app=rechunked(evaluation_app, 40_000))
    async with (
        evaluation_app.router.lifespan_context(evaluation_app),
        httpx.AsyncClient(transport=transport, base_url="http://t", auth=GatewaySigner(who.PRACTICE)) as client,
    ):
        answer = await client.post("/v1/workload", content=body, headers=NDJSON)
    assert answer.json() == {"received": 6000, "inserted": 6000, "replaced": 0}, answer.text
    assert count(evaluation_url) == 6000


async def test_a_streamed_body_that_is_not_the_signed_one_writes_nothing(
    evaluation_app: FastAPI, evaluation_url: str, who: Any
) -> None:
    signed = ndjson([record(period_start=f"20{10 + i % 80}-01-01", grain="month") for i in range(8000)]).encode()
    assert len(signed) > 1_048_576
    tampered = signed.replace(b'"appointments": 120', b'"appointments": 999', 1)
    assert len(tampered) == len(signed)
    headers = signed_headers(who.PRACTICE, method="POST", path="/v1/workload", body=signed)
    async with (
        evaluation_app.router.lifespan_context(evaluation_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=evaluation_app), base_url="http://t") as raw,
    ):
        response = await raw.post("/v1/workload", content=tampered, headers={**headers, **NDJSON})
    assert_problem(response, 401, "unauthenticated")
    assert count(evaluation_url) == 0 and count(evaluation_url, "workload_upload") == 0


async def test_list_sizes_in_every_format(practice: httpx.AsyncClient, evaluation_url: str) -> None:
    as_json = [{"practice_code": "A81001", "month": "2025-10", "registered_patients": 9100}]
    assert (await practice.post("/v1/list-sizes", json=as_json)).json() == {"received": 1, "inserted": 1, "replaced": 0}
    lines = ndjson([{"practice_code": "a81001", "month": "2025-11-01", "registered_patients": 9120}])
    assert (await practice.post("/v1/list-sizes", content=lines, headers=NDJSON)).json()["inserted"] == 1
    table = "registered_patients,practice_code,month\n9150,A81001,2025-10\n9200,A81001,2025-12\n"
    assert (await practice.post("/v1/list-sizes", content=table, headers=CSV)).json() == {
        "received": 2,
        "inserted": 1,
        "replaced": 1,
    }
    got = stored(evaluation_url, "SELECT month, registered_patients FROM list_size ORDER BY month")
    assert [(str(m), n) for m, n in got] == [("2025-10-01", 9150), ("2025-11-01", 9120), ("2025-12-01", 9200)]
    bad = [{"practice_code": "A81001", "month": "2025-13", "registered_patients": -3}]
    problem = assert_problem(await practice.post("/v1/list-sizes", json=bad), 422, "invalid-records")
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [(1, "month"), (1, "registered_patients")]


async def test_two_writers_crossing_on_the_same_keys_is_a_409_and_nothing_of_the_upload_is_written(
    practice: httpx.AsyncClient, evaluation_url: str
) -> None:
    if not evaluation_url.startswith("postgresql"):
        pytest.skip("SQLite's writers never interleave: the merge takes the database's write lock first")
    first, second = record(), record(hcp_role="nurse")
    columns = ", ".join(first)
    insert = f"INSERT INTO workload ({columns}, upload_id) VALUES ({', '.join('%s' for _ in first)}, 0)"
    other = psycopg.connect(evaluation_url.replace("postgresql+psycopg://", "postgresql://"))
    watcher = psycopg.connect(evaluation_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    try:
        other.execute(insert, [*second.values()])  # another writer holds the second key, uncommitted
        upload = asyncio.create_task(practice.post("/v1/workload", content=ndjson([first, second]), headers=NDJSON))
        deadline = time.monotonic() + 30
        while not watcher.execute(  # the upload waits for the other writer (polled, bounded)
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline and not upload.done(), "the upload never waited"
            await asyncio.sleep(0.02)
        # The other writer now wants the upload's first key: a deadlock, which PostgreSQL breaks by
        # aborting the upload (the first to wait is the first to look).
        await asyncio.to_thread(other.execute, insert, [*first.values()])
        other.commit()
        response = await upload
    finally:
        other.close()
        watcher.close()
    assert_problem(response, 409, "upload-conflict")
    assert response.headers["retry-after"] == "1"
    assert count(evaluation_url) == 2 and count(evaluation_url, "workload_upload") == 0
    assert set(stored(evaluation_url, "SELECT DISTINCT upload_id FROM workload")[0]) == {0}


# How the merge went: the statements it ran, in order (the service logs them with each upload). On
# PostgreSQL a batch whose periods are all new is one plain INSERT (the fast path); otherwise, or when
# the plain insert meets a key after all, the upsert. SQLite has one way only.


def merges(caplog: pytest.LogCaptureFixture) -> list[list[str]]:
    """The statements of each merge logged so far."""
    return [
        [step["step"] for step in getattr(r, "merge_steps", [])]
        for r in caplog.records
        if r.name == "arrs.evaluation.workload" and r.getMessage() == "bulk upload merged"
    ]


def on_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def upload_ids(url: str) -> dict[tuple[str, ...], int]:
    rows = stored(
        url,
        "SELECT practice_code, grain, period_start, hcp_role, national_category, mode, status, upload_id FROM workload",
    )
    return {tuple(str(v) for v in row[:7]): row[7] for row in rows}


def key(**changes: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in list(record(**changes).values())[:7])


async def test_a_batch_of_new_periods_is_one_plain_insert(
    practice: httpx.AsyncClient, evaluation_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arrs.evaluation.workload")
    batch = [
        record(period_start=week, hcp_role=role, appointments=n, minutes=None if role == "nurse" else 10 * n)
        for n, (week, role) in enumerate(itertools.product(("2025-01-06", "2025-01-13"), ("gp", "nurse", "paramedic")))
    ]
    answer = await practice.post("/v1/workload", content=ndjson(batch), headers=NDJSON)
    assert answer.json() == {"received": 6, "inserted": 6, "replaced": 0}, answer.text
    # A later week onto the stored ones: its period is new, so the fast path again.
    later = await practice.post("/v1/workload", json=[record(period_start="2025-01-20", appointments=77)])
    assert later.json() == {"received": 1, "inserted": 1, "replaced": 0}
    fast = ["check", "insert"] if on_postgres(evaluation_url) else ["check", "upsert_last_per_key"]
    assert merges(caplog) == [fast, fast]
    got = values(evaluation_url)
    assert len(got) == 7
    for n, row in enumerate(batch):
        assert got[key(**row)] == (n, row["minutes"])
    assert got[key(period_start="2025-01-20")] == (77, 1200)
    uploads = stored(evaluation_url, "SELECT id, received, inserted, replaced FROM workload_upload ORDER BY id")
    (first, *_), (second, *_) = uploads
    assert [tuple(u[1:]) for u in uploads] == [(6, 6, 0), (1, 1, 0)]
    ids = upload_ids(evaluation_url)
    assert ids.pop(key(period_start="2025-01-20")) == second and set(ids.values()) == {first}


async def test_a_batch_with_stored_keys_is_upserted_with_exact_counts(
    practice: httpx.AsyncClient, evaluation_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arrs.evaluation.workload")
    first = [record(), record(hcp_role="nurse"), record(hcp_role="paramedic")]
    assert (await practice.post("/v1/workload", json=first)).json() == {"received": 3, "inserted": 3, "replaced": 0}
    second = [
        record(appointments=130),  # stored: changed
        record(hcp_role="nurse"),  # stored: the same values
        record(mode="telephone"),  # new, in a stored period
        record(period_start="2025-01-13"),  # new, in a new period
    ]
    answer = await practice.post("/v1/workload", content=ndjson(second), headers=NDJSON)
    assert answer.json() == {"received": 4, "inserted": 2, "replaced": 2}, answer.text
    fast = ["check", "insert"] if on_postgres(evaluation_url) else ["check", "upsert_last_per_key"]
    assert merges(caplog) == [fast, ["check", "upsert" if on_postgres(evaluation_url) else "upsert_last_per_key"]]
    got = values(evaluation_url)
    assert len(got) == 5
    assert got[key()] == (130, 1200) and got[key(hcp_role="nurse")] == (120, 1200)
    assert got[key(mode="telephone")] == (120, 1200) and got[key(period_start="2025-01-13")] == (120, 1200)
    uploads = stored(evaluation_url, "SELECT id, received, inserted, replaced FROM workload_upload ORDER BY id")
    assert [tuple(u[1:]) for u in uploads] == [(3, 3, 0), (4, 2, 2)]
    one, two = (u[0] for u in uploads)
    ids = upload_ids(evaluation_url)
    assert ids[key()] == two and ids[key(mode="telephone")] == two and ids[key(period_start="2025-01-13")] == two
    assert ids[key(hcp_role="nurse")] == one and ids[key(hcp_role="paramedic")] == one  # unchanged, untouched


async def test_a_batch_naming_a_key_twice_keeps_its_last_record_on_either_path(
    practice: httpx.AsyncClient, evaluation_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arrs.evaluation.workload")
    # New periods only: the plain insert meets the key's second record and gives way to the upsert
    # of the last record of each key.
    new = [
        record(appointments=1),
        record(hcp_role="nurse", appointments=2),
        record(appointments=3, minutes=None),
        record(hcp_role="paramedic", appointments=4),
    ]
    answer = await practice.post("/v1/workload", content=ndjson(new), headers=NDJSON)
    assert answer.json() == {"received": 4, "inserted": 3, "replaced": 0}, answer.text
    # Stored periods: the upsert meets the key twice and gives way to the same.
    stored_too = [
        record(appointments=7),
        record(mode="telephone", appointments=8),
        record(appointments=9),
        record(hcp_role="nurse", appointments=2),
    ]
    answer = await practice.post("/v1/workload", content=ndjson(stored_too), headers=NDJSON)
    assert answer.json() == {"received": 4, "inserted": 1, "replaced": 2}, answer.text
    if on_postgres(evaluation_url):
        assert merges(caplog) == [
            ["check", "insert", "upsert_last_per_key"],
            ["check", "upsert", "upsert_last_per_key"],
        ]
    else:
        assert merges(caplog) == [["check", "upsert_last_per_key"]] * 2
    got = values(evaluation_url)
    assert got == {
        key(): (9, 1200),
        key(hcp_role="nurse"): (2, 1200),
        key(hcp_role="paramedic"): (4, 1200),
        key(mode="telephone"): (8, 1200),
    }
    uploads = stored(evaluation_url, "SELECT received, inserted, replaced FROM workload_upload ORDER BY id")
    assert [tuple(u) for u in uploads] == [(4, 3, 0), (4, 1, 2)]


async def test_gpad_sums_take_the_plain_insert_when_their_months_are_new(
    practice: httpx.AsyncClient, evaluation_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="arrs.evaluation.workload")
    assert (await practice.post("/v1/workload", content=GPAD_2023, headers=CSV)).json() == {
        "received": 3,
        "inserted": 2,
        "replaced": 0,
    }
    assert (await practice.post("/v1/workload", content=GPAD_2023, headers=CSV)).json() == {
        "received": 3,
        "inserted": 0,
        "replaced": 2,
    }
    first = ["check", "insert_sums"] if on_postgres(evaluation_url) else ["check", "upsert_sums"]
    assert merges(caplog) == [first, ["check", "upsert_sums"]]
    routine = ("A81001", "month", "2025-10-01", "gp", "general_consultation_routine", "face_to_face", "attended")
    assert values(evaluation_url)[routine] == (65, None)


async def test_a_key_another_writer_stores_during_the_plain_insert_is_replaced(
    practice: httpx.AsyncClient, evaluation_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The fast path's check sees no stored period, but another writer (uncommitted then) holds one of
    the keys: the plain insert waits for it and, once it commits, gives way to the upsert."""
    if not on_postgres(evaluation_url):
        pytest.skip("SQLite's writers never interleave: the merge takes the database's write lock first")
    caplog.set_level(logging.INFO, logger="arrs.evaluation.workload")
    theirs = record(hcp_role="nurse", appointments=5)
    columns = ", ".join(theirs)
    libpq = evaluation_url.replace("postgresql+psycopg://", "postgresql://")
    other = psycopg.connect(libpq)
    watcher = psycopg.connect(libpq, autocommit=True)
    try:
        other.execute(
            f"INSERT INTO workload ({columns}, upload_id) VALUES ({', '.join('%s' for _ in theirs)}, 0)",
            [*theirs.values()],
        )
        batch = [record(), record(hcp_role="nurse", appointments=99), record(hcp_role="paramedic")]
        upload = asyncio.create_task(practice.post("/v1/workload", content=ndjson(batch), headers=NDJSON))
        deadline = time.monotonic() + 30
        while not watcher.execute(  # the upload waits for the other writer's key (polled, bounded)
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline and not upload.done(), "the upload never waited"
            await asyncio.sleep(0.02)
        await asyncio.to_thread(other.commit)
        response = await upload
    finally:
        other.close()
        watcher.close()
    assert response.json() == {"received": 3, "inserted": 2, "replaced": 1}, response.text
    assert merges(caplog) == [["check", "insert", "upsert_last_per_key"]]
    assert values(evaluation_url) == {
        key(): (120, 1200),
        key(hcp_role="nurse"): (99, 1200),
        key(hcp_role="paramedic"): (120, 1200),
    }
    assert set(upload_ids(evaluation_url).values()) == {stored(evaluation_url, "SELECT id FROM workload_upload")[0][0]}
