"""HTTP endpoints of the funding rates per financial year."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    DEFAULT_LIMIT,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    page_or_csv,
)
from arrs_kit.problems import problem_responses
from budget.deps import (
    AuthorisedRoute,
    FyPath,
    IfMatchOptional,
)
from budget.kinds import AdminDep, ReaderDep
from budget.schemas.budgets import FundingRatePage, FundingRatePublic, FundingRatePut
from budget.service import funding_rates

router = APIRouter(prefix="/v1", route_class=AuthorisedRoute)


@router.get(
    "/funding-rates",
    tags=["funding-rates"],
    operation_id="list_funding_rates",
    summary="List funding rates per weighted patient",
    response_model=FundingRatePage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_funding_rates(
    request: Request,
    session: ReadSessionDep,
    principal: ReaderDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> FundingRatePage | Response:
    """The ARRS rates per weighted patient by financial year, in pounds as decimal strings (exact),
    and the ring-fenced ARRS GP rate where a year has one. Any client but a practice system."""
    items, next_cursor = funding_rates.list_funding_rates(session=session, cursor=cursor, limit=limit)
    return page_or_csv(request, format, FundingRatePage(data=items, next_cursor=next_cursor), filename="funding-rates")


@router.put(
    "/funding-rates/{fy}",
    tags=["funding-rates"],
    operation_id="put_funding_rate",
    summary="Set a year's funding rates",
    response_model=FundingRatePublic,
    responses=merge_responses(
        {201: {"model": FundingRatePublic, "description": "Created"}, **problem_responses(403, 412, 422)},
        response_headers("ETag", on=(200, 201)),
    ),
)
def put_funding_rate(
    fy: FyPath,
    data: FundingRatePut,
    session: WriteSessionDep,
    principal: AdminDep,
    if_match: IfMatchOptional = None,
) -> JSONResponse:
    """Admin: set a financial year's rates per weighted patient (pounds, up to 3 decimals, as
    strings). 201 when the year had none, 200 when they replace (or repeat) its rates. Budgets
    already allocated change only when `allocate` is called again."""
    public, etag, created = funding_rates.put_funding_rate(
        session=session, principal=principal, fy=fy, data=data, if_match=if_match
    )
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if created else 200, headers={"ETag": etag})
