"""``/v1/scorecards``: a PCN's scorecard, and an ICB's PCNs one row each (composed in :mod:`scorecards`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from arrs_kit.etag import conditional, conditional_responses
from arrs_kit.pagination import CSV_RESPONSE_DOC, CursorQuery, FormatQuery, LimitQuery, csv_response, wants_csv
from arrs_kit.problems import NotFound, ProblemError, problem_responses
from arrs_kit.types import BoundedDate
from gateway.calendar import financial_year, fy_of, today_in_england
from gateway.deps import current_principal as principal_of
from gateway.deps import gateway_of
from gateway.schemas import Scorecard, ScorecardPage
from gateway.scorecards import Reader, icb_rows, pcn_scorecard

router = APIRouter(prefix="/v1/scorecards", tags=["scorecards"])

FyQuery = Annotated[
    str | None, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY`; default: the current one.")
]
AsOfQuery = Annotated[BoundedDate | None, Query(description="Evaluate as of this day; default today in England.")]


class ScorecardUnavailable(ProblemError):
    status, code, title = 503, "upstream-unavailable", "A service the scorecard needs could not be read"


def _reader(request: Request) -> Reader:
    return Reader(gateway_of(request), principal_of(request), request.scope["state"]["request_id"])


@router.get(
    "/{pcn_code}",
    operation_id="get_scorecard",
    summary="Get a PCN's scorecard",
    response_model=Scorecard,
    responses={**conditional_responses(), **problem_responses(403, 404, 422)},
)
async def get_scorecard(
    request: Request,
    pcn_code: Annotated[str, Path(pattern=r"^[Uu][0-9]{5}$", description="PCN code (any case).")],
    fy: FyQuery = None,
    as_of: AsOfQuery = None,
) -> Response:
    """One PCN in one answer: its budget pots and forecast, posts by role, KPI attainment, posts at
    risk, each role's latest workload-shift estimate, the year's true cost, and readiness. The three
    services are read concurrently, each with the caller's own scope; a part a service cannot give
    (down, slow, failing) is null and named in `parts_missing`, and the answer is still 200.

    Conditional: the `ETag` is a digest of the card; sent back as `If-None-Match`, an unchanged card
    is answered 304 with no body (the card is still composed: what is saved is its transfer)."""
    today = as_of or today_in_england()
    year = fy or fy_of(today)
    financial_year(year)
    status, card = await pcn_scorecard(_reader(request), pcn_code.upper(), year, today.isoformat())
    if status == 404:
        raise NotFound(f"No PCN {pcn_code.upper()}.", code="pcn-not-found")
    answer = Response(Scorecard.model_validate(card).model_dump_json(), media_type="application/json")
    return conditional(request, answer)


@router.get(
    "",
    operation_id="list_scorecards",
    summary="List an ICB's PCN scorecards",
    response_model=ScorecardPage,
    responses={**conditional_responses(CSV_RESPONSE_DOC, vary=["Accept"]), **problem_responses(403, 422, 503)},
)
async def list_scorecards(
    request: Request,
    icb_code: Annotated[str, Query(pattern=r"^[A-Za-z0-9]{3}$", description="The ICB whose PCNs to list.")],
    fy: FyQuery = None,
    as_of: AsOfQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> Response:
    """The ICB's PCNs (those the caller may see), one scorecard row each, by PCN code: money allocated,
    available and paid this year, posts in post and at risk, flagged posts, overdue KPIs and readiness.
    Parts a service could not give are null and named in `parts_missing`. Conditional, JSON and CSV
    alike: an `ETag` of the answer's bytes, 304 to an `If-None-Match` that names it."""
    today = as_of or today_in_england()
    year = fy or fy_of(today)
    financial_year(year)
    code = icb_code.upper()
    listed, rows, gaps = await icb_rows(_reader(request), code, year, today.isoformat(), limit, cursor)
    if listed.status in (403, 422):
        raise ProblemError(
            listed.reason, status=listed.status, code="invalid-cursor" if listed.status == 422 else "forbidden"
        )
    if not listed.ok:
        raise ScorecardUnavailable(
            f"The PCNs of {code} could not be read: {listed.reason}.", headers={"Retry-After": "5"}
        )
    page = ScorecardPage.model_validate(
        {
            "data": rows,
            "next_cursor": listed.body.get("next_cursor"),
            "icb_code": code,
            "fy": year,
            "as_of": today,
            "parts_missing": gaps,
        }
    )
    if wants_csv(request, format):
        answer = csv_response(
            [{"icb_code": code, "fy": year, **r.model_dump()} for r in page.data],
            next_cursor=page.next_cursor,
            filename=f"{code}-{year}-scorecards",  # csv_response adds ".csv"
        )
    else:
        answer = Response(page.model_dump_json(), media_type="application/json")
    return conditional(request, answer, vary=["Accept"])
