"""HTTP endpoints of the evaluation summaries the gateway composes scorecards from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from arrs_kit.db import ReadSessionDep
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    decode_cursor,
    next_cursor_for,
    page_or_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from evaluation.access import ReaderDep, VisiblePcn, budget_of
from evaluation.analyses import summary
from evaluation.analyses.routers import AsOfQuery
from evaluation.analyses.schemas import PcnEvaluation, PcnEvaluationPage
from evaluation.analyses.shift_routes import WeeksQuery
from evaluation.clock import today_in_england
from evaluation.periods import financial_year, fy_of

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])


@router.get(
    "/pcns/{pcn_code}/summary",
    operation_id="get_pcn_evaluation",
    summary="Summarise a PCN's evaluation",
    response_model=PcnEvaluation,
    responses=problem_responses(403, 404, 422, 503),
)
def get_pcn_evaluation(
    pcn: VisiblePcn,
    principal: PrincipalDep,
    request: Request,
    session: ReadSessionDep,
    fy: Annotated[str | None, Query(min_length=7, max_length=7, description="`YYYY-YY`; default: of `as_of`.")] = None,
    weeks: WeeksQuery = 12,
    as_of: AsOfQuery = None,
) -> PcnEvaluation:
    """Every analysis of the PCN, summarised: KPI attainment (active KPIs by latest status, overdue,
    flagged posts), the posts at risk with their reasons, the workload shift of each role from its
    first post, the year's true cost and cost per appointment per role, and readiness."""
    today = as_of or today_in_england()
    year = fy or fy_of(today)
    financial_year(year)  # 422 for a bad year, before any work
    return summary.pcn_evaluation(
        session=session,
        budget=budget_of(request),
        principal=principal,
        pcn=pcn,
        fy=year,
        weeks=weeks,
        today=today,
        cache=request.app.state.pcn_evaluations,
    )


@router.get(
    "/pcn-summaries",
    operation_id="list_pcn_evaluations",
    summary="List an ICB's PCN evaluations",
    response_model=PcnEvaluationPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422, 503)},
)
def list_pcn_evaluations(
    principal: ReaderDep,
    request: Request,
    session: ReadSessionDep,
    icb_code: Annotated[str, Query(pattern=r"^[A-Za-z0-9]{3}$", description="The ICB whose PCNs to list.")],
    as_of: AsOfQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> PcnEvaluationPage | Response:
    """One row per PCN of the ICB (those the caller may see), by PCN code: posts evaluated and at risk,
    flagged posts, active and overdue KPIs, and the share of readiness in place."""
    today = as_of or today_in_england()
    rows = summary.icb_rows(
        session=session,
        budget=budget_of(request),
        principal=principal,
        icb_code=icb_code.upper(),
        today=today,
        cache=request.app.state.icb_evaluations,
    )
    after = decode_cursor(cursor, str)
    if after:
        rows = [r for r in rows if r.pcn_code > str(after[0])]
    page, next_ = next_cursor_for(rows, limit, lambda r: (r.pcn_code,))
    result = PcnEvaluationPage(data=page, next_cursor=next_, as_of=today)
    return page_or_csv(request, format, result, filename=f"{icb_code.upper()}-pcn-evaluations.csv")
