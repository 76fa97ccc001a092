"""HTTP endpoints of workload and list sizes: ``/v1/workload`` and ``/v1/list-sizes``.

The uploads read the request body themselves, as it streams (FastAPI never parses it): the route
hands the service a plain iterator over the body's chunks and runs it in a worker thread, so a
200 MB upload is parsed, checked and staged chunk by chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator, WithJsonSchema

from arrs_kit.db import ReadSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader
from arrs_kit.pagination import CSV_RESPONSE_DOC, DEFAULT_LIMIT, CursorQuery, FormatQuery, LimitQuery, page_or_csv
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from arrs_kit.types import BoundedDate
from evaluation import examples
from evaluation.clients.budget import BudgetClient
from evaluation.workload import service
from evaluation.workload.reading import Kind
from evaluation.workload.schemas import (
    MONTH_PATTERN,
    PRACTICE_CODE_PATTERN,
    ListSizePage,
    ListSizeRecords,
    UploadResult,
    WorkloadGrain,
    WorkloadPage,
    WorkloadRecords,
)
from evaluation.workload.values import Checks

router = APIRouter(prefix="/v1")

_FORMATS = (
    "The body is a JSON array (`application/json`), one record per line (`application/x-ndjson`) or CSV "
    "(`text/csv`, a header row naming the columns, in any order; other columns are ignored), in UTF-8. "
)
_RULES = (
    "The body is read as it streams (up to 512 MiB through the gateway). A batch with any bad record is "
    "refused whole (422 `invalid-records`, the first 100 bad records listed by line and field) and one "
    "record for a practice outside the client's scope refuses it with 403 `practice-out-of-scope`: nothing "
    "is written. Within a batch the last record of a key wins; a key already stored is replaced "
    "(`replaced` counts them, whatever their value): a resubmitted batch answers `inserted: 0`. With an "
    "`Idempotency-Key`, the same key and the same bytes replay the first answer."
)


def _body_doc(schema: str, csv_columns: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The request body of an upload in its three media types, each with ``records`` as its example."""
    ndjson = "".join(json.dumps(record) + "\n" for record in records)
    columns = list(records[0])
    csv = ",".join(columns) + "\n" + "".join(",".join(str(r[c]) for c in columns) + "\n" for r in records)
    return {
        "requestBody": {
            "required": True,
            "description": _FORMATS + csv_columns,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "One JSON record per line."},
                    "example": ndjson,
                },
                "text/csv": {
                    "schema": {"type": "string", "description": "A header row, then one record per row."},
                    "example": csv,
                },
            },
        }
    }


def _records_doc(model: type[Any], what: str) -> dict[int | str, dict[str, Any]]:
    # The model documented here is what puts the JSON body's schema among the document's named
    # schemas (the body is read by the service, not by FastAPI); the 422 itself is a problem+json.
    return {
        **problem_responses(403, 409, 415),
        422: {"model": model, "description": f"Some {what} are not valid (`invalid-records`), or the request is not."},
    }


CHUNK_BYTES = 1 << 20


def _chunks(request: Request) -> Iterator[bytes]:
    """The request body, pulled from the event loop by the worker thread that reads it, in pieces of
    about a mebibyte (a server hands on ~64 KiB at a time: fewer hops between thread and loop)."""
    stream = request.stream()

    async def next_piece() -> bytes | None:
        parts: list[bytes] = []
        size = 0
        async for chunk in stream:
            parts.append(chunk)
            size += len(chunk)
            if size >= CHUNK_BYTES:
                break
        return b"".join(parts) if parts else None

    while (piece := anyio.from_thread.run(next_piece)) is not None:
        if piece:
            yield piece


async def _ingest(request: Request, principal: Any, kind: Kind, idempotency_key: str | None) -> Any:
    upload = service.Upload(
        kind=kind,
        principal=principal,
        content_type=request.headers.get("content-type"),
        idempotency_key=idempotency_key,
        method=request.method,
        path=request.url.path,
        request_id=getattr(request.state, "request_id", None),
    )
    return await run_in_threadpool(
        service.ingest,
        db=request.app.state.db,
        store=request.app.state.idempotency,
        upload=upload,
        chunks=_chunks(request),
    )


@router.post(
    "/workload",
    tags=["workload"],
    operation_id="post_workload",
    summary="Upload workload (appointment counts)",
    description="A practice system (or an admin) posts appointment counts per `(practice_code, grain, "
    "period_start, hcp_role, national_category, mode, status)`. " + _RULES,
    response_model=UploadResult,
    responses=_records_doc(WorkloadRecords, "workload records"),
    openapi_extra=_body_doc(
        "WorkloadRecords",
        "CSV columns: `practice_code, grain, period_start, hcp_role, national_category, mode, status, "
        "appointments[, minutes]`, or those of the published GPAD practice-level CSV (`GP_CODE`, "
        "`APPOINTMENT_MONTH_START_DATE` like `01OCT2025`, `HCP_TYPE`, `NATIONAL_CATEGORY`, `APPT_MODE`, "
        "`APPT_STATUS`, `COUNT_OF_APPOINTMENTS`), stored at month grain, rows of one key added up. ",
        examples.WORKLOAD_RECORDS,
    ),
)
async def post_workload(
    request: Request, principal: PrincipalDep, idempotency_key: IdempotencyKeyHeader = None
) -> UploadResult | JSONResponse:
    """Post workload records (the description above is the OpenAPI text)."""
    result: UploadResult | JSONResponse = await _ingest(request, principal, Kind.WORKLOAD, idempotency_key)
    return result


@router.post(
    "/list-sizes",
    tags=["workload"],
    operation_id="post_list_sizes",
    summary="Upload list sizes",
    description="A practice system (or an admin) posts registered list sizes per practice and month "
    "(`YYYY-MM`). " + _RULES,
    response_model=UploadResult,
    responses=_records_doc(ListSizeRecords, "list-size records"),
    openapi_extra=_body_doc(
        "ListSizeRecords", "CSV columns: `practice_code, month, registered_patients`. ", examples.LIST_SIZE_RECORDS
    ),
)
async def post_list_sizes(
    request: Request, principal: PrincipalDep, idempotency_key: IdempotencyKeyHeader = None
) -> UploadResult | JSONResponse:
    """Post list-size records (the description above is the OpenAPI text)."""
    result: UploadResult | JSONResponse = await _ingest(request, principal, Kind.LIST_SIZE, idempotency_key)
    return result


PracticeQuery = Annotated[
    str | None,
    Query(
        pattern=PRACTICE_CODE_PATTERN,
        description="The practice (any case); required for every client but an admin.",
        examples=["A81001"],
    ),
]


def _month(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    found = Checks().list_month(value) if isinstance(value, str) and len(value) == 7 else None
    if found is None:
        raise ValueError("a month is YYYY-MM, from 2000-01 to 2099-12")
    return date.fromisoformat(found)


MonthQuery = Annotated[date, BeforeValidator(_month), WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN})]


def _budget(request: Request) -> BudgetClient:
    budget: BudgetClient = request.app.state.budget
    return budget


@router.get(
    "/workload",
    tags=["workload"],
    operation_id="list_workload",
    summary="List a practice's workload",
    response_model=WorkloadPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(404, 422, 503)},
)
def list_workload(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    practice_code: PracticeQuery = None,
    from_: Annotated[BoundedDate | None, Query(alias="from", description="First period_start (inclusive).")] = None,
    to: Annotated[BoundedDate | None, Query(description="Last period_start (inclusive).")] = None,
    grain: Annotated[WorkloadGrain | None, Query(description="Only this grain.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> WorkloadPage | Response:
    """Stored workload counts of a practice, in key order. A practice system reads its own
    practices; an ICB, PCN or dashboard a practice the budget service shows it (else 404); an admin
    any, or all when no practice is named."""
    code = service.readable_practice(principal=principal, budget=_budget(request), practice_code=practice_code)
    items, next_cursor = service.list_workload(
        session=session, practice_code=code, grain=grain, first=from_, last=to, cursor=cursor, limit=limit
    )
    return page_or_csv(request, format, WorkloadPage(data=items, next_cursor=next_cursor), filename="workload")


@router.get(
    "/list-sizes",
    tags=["workload"],
    operation_id="list_list_sizes",
    summary="List a practice's list sizes",
    response_model=ListSizePage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(404, 422, 503)},
)
def list_list_sizes(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    practice_code: PracticeQuery = None,
    from_: Annotated[MonthQuery | None, Query(alias="from", description="First month, `YYYY-MM`.")] = None,
    to: Annotated[MonthQuery | None, Query(description="Last month, `YYYY-MM`.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> ListSizePage | Response:
    """Stored list sizes of a practice by month, with the same scope as `GET /v1/workload`."""
    code = service.readable_practice(principal=principal, budget=_budget(request), practice_code=practice_code)
    items, next_cursor = service.list_list_sizes(
        session=session, practice_code=code, first=from_, last=to, cursor=cursor, limit=limit
    )
    return page_or_csv(request, format, ListSizePage(data=items, next_cursor=next_cursor), filename="list-sizes")
