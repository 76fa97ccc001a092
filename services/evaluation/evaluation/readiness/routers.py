"""HTTP endpoints of operating-plan readiness: ``/v1/readiness/{pcn_code}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    csv_response,
    decode_cursor,
    next_cursor_for,
    page_or_csv,
    wants_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from evaluation.access import ManagedPcn, VisiblePcn
from evaluation.clock import today_in_england
from evaluation.readiness import repository, service
from evaluation.readiness.schemas import ReadinessBody, ReadinessPublic, ReadinessVersionPage

router = APIRouter(prefix="/v1/readiness", tags=["readiness"])

IfMatch = Annotated[str | None, Header(description="The ETag you last read: required to replace a recorded version.")]


@router.put(
    "/{pcn_code}",
    operation_id="put_readiness",
    summary="Record a PCN's readiness",
    response_model=ReadinessPublic,
    responses=merge_responses(
        {
            201: {"model": ReadinessPublic, "description": "The first version"},
            **problem_responses(403, 404, 409, 412, 422, 428, 503),
        },
        response_headers("ETag", on=(200, 201)),
    ),
)
def put_readiness(
    pcn: ManagedPcn, body: ReadinessBody, session: WriteSessionDep, principal: PrincipalDep, if_match: IfMatch = None
) -> JSONResponse:
    """Record the PCN's operating-plan readiness: for each of the nine areas and four lenses a status
    (`not_started`, `in_progress`, `in_place`), an owner, a due date and a note. The assessment is
    replaced whole (cells left out are `not_started`); the first needs no `If-Match`, later ones do,
    and every version stays readable under `/history`. The PCN (or an admin) writes."""
    row, created = service.put(session=session, pcn_code=pcn.code, principal=principal, body=body, if_match=if_match)
    public = service.public(pcn.code, row, today_in_england())
    return JSONResponse(
        public.model_dump(mode="json"),
        status_code=201 if created else 200,
        headers={"ETag": service.etag(pcn.code, row.version)},
    )


@router.get(
    "/{pcn_code}",
    operation_id="get_readiness",
    summary="Get a PCN's readiness",
    response_model=ReadinessPublic,
    responses=merge_responses({**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)}, response_headers("ETag")),
)
def get_readiness(pcn: VisiblePcn, request: Request, session: ReadSessionDep, format: FormatQuery = None) -> Response:
    """The PCN's readiness: all 36 cells (with `overdue` where a due date has passed), a summary and
    one per area. Version 0 means nothing has been recorded yet. As CSV: one row per cell."""
    row = repository.current(session, pcn.code)
    public = service.public(pcn.code, row, today_in_england())
    headers = {"ETag": service.etag(pcn.code, public.version)}
    if wants_csv(request, format):
        rows = [{"pcn_code": pcn.code, "version": public.version, **c.model_dump()} for c in public.cells]
        response = csv_response(rows, next_cursor=None, filename=f"readiness-{pcn.code}.csv")
        response.headers.update(headers)
        return response
    return JSONResponse(public.model_dump(mode="json"), headers=headers)


@router.get(
    "/{pcn_code}/history",
    operation_id="list_readiness_history",
    summary="List a PCN's readiness versions",
    response_model=ReadinessVersionPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def list_readiness_history(
    pcn: VisiblePcn,
    request: Request,
    session: ReadSessionDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> ReadinessVersionPage | Response:
    """Every recorded version of the PCN's readiness, newest first."""
    after = decode_cursor(cursor, int)
    rows = repository.versions(session, pcn.code, before=int(after[0]) if after else None, limit=limit + 1)
    page, next_ = next_cursor_for(list(rows), limit, lambda r: (r.version,))
    today = today_in_england()
    result = ReadinessVersionPage(data=[service.public(pcn.code, r, today) for r in page], next_cursor=next_)
    return page_or_csv(request, format, result, filename=f"readiness-{pcn.code}-history.csv")
