"""HTTP endpoints of the analyses: ``/v1/evaluations/...``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from arrs_kit.db import ReadSessionDep
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    csv_response,
    decode_cursor,
    next_cursor_for,
    wants_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from arrs_kit.types import BoundedDate
from evaluation.access import VisiblePcn, VisiblePost, budget_of
from evaluation.analyses import service
from evaluation.analyses.schemas import AtRiskPostPage, PostAttainment
from evaluation.clock import today_in_england

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

AsOfQuery = Annotated[
    BoundedDate | None,
    Query(description="Evaluate as of this day (periods that ended before it are due); default today in England."),
]


@router.get(
    "/posts/{post_id}/kpi-attainment",
    operation_id="get_kpi_attainment",
    summary="KPI attainment of a post",
    response_model=PostAttainment,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def get_kpi_attainment(
    post: VisiblePost, request: Request, session: ReadSessionDep, as_of: AsOfQuery = None, format: FormatQuery = None
) -> PostAttainment | Response:
    """Each KPI of the post period by period: `on_track` (target met), `at_risk` (within 10% of it),
    `off_track`, or `missing`, for either direction; its drift (consecutive most recent periods not on
    track) and whether it is flagged (drift ≥ 2) or overdue. As CSV: one row per KPI and period."""
    result = service.post_attainment(session=session, post=post, today=as_of or today_in_england())
    if not wants_csv(request, format):
        return result
    rows = [
        {
            "post_id": result.post_id,
            "pcn_code": result.pcn_code,
            "role_code": result.role_code,
            "as_of": result.as_of,
            **kpi.model_dump(exclude={"periods"}),
            **period.model_dump(),
        }
        for kpi in result.kpis
        for period in kpi.periods
    ]
    return csv_response(rows, next_cursor=None, filename=f"post-{post.id}-kpi-attainment.csv")


@router.get(
    "/pcns/{pcn_code}/at-risk-posts",
    operation_id="list_at_risk_posts",
    summary="List a PCN's posts at risk",
    response_model=AtRiskPostPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def list_at_risk_posts(
    pcn: VisiblePcn,
    principal: PrincipalDep,
    request: Request,
    session: ReadSessionDep,
    as_of: AsOfQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> AtRiskPostPage | Response:
    """The PCN's posts (in post, or not yet started) at risk, each with every reason: `no_job_plan`,
    `no_kpi`, `no_named_supervisor` (read from the post), `no_recent_measurement` (an active KPI with
    no value in either of the last two periods) and `drift` (an active KPI not on track for 2 or more
    consecutive periods). As CSV: one row per post and reason."""
    today = as_of or today_in_england()
    posts, evaluated = service.at_risk_posts(
        session=session, budget=budget_of(request), principal=principal, pcn=pcn, today=today
    )
    after = decode_cursor(cursor, int)
    if after:
        posts = [p for p in posts if p.post_id > int(after[0])]
    page, next_ = next_cursor_for(posts, limit, lambda p: (p.post_id,))
    result = AtRiskPostPage(data=page, next_cursor=next_, pcn_code=pcn.code, as_of=today, posts_evaluated=evaluated)
    if not wants_csv(request, format):
        return result
    rows = [
        {
            "pcn_code": pcn.code,
            "as_of": today,
            **post.model_dump(exclude={"reasons"}),
            "reason": reason.code,
            "detail": reason.detail,
            "kpi_ids": reason.kpi_ids,
        }
        for post in page
        for reason in post.reasons
    ]
    return csv_response(rows, next_cursor=next_, filename=f"{pcn.code}-at-risk-posts.csv")
