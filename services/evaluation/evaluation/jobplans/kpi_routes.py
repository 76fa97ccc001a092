"""HTTP endpoints of KPIs and their measurements: ``/v1/job-plans/{post_id}/kpis`` and ``/v1/kpis``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.etag import IfMatchHeader
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    CursorQuery,
    FormatQuery,
    InvalidCursor,
    LimitQuery,
    decode_cursor,
    next_cursor_for,
    page_or_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from evaluation.access import ManagedKpi, ManagedPost, VisibleKpi, VisiblePost
from evaluation.clock import today_in_england
from evaluation.jobplans import kpis, repository
from evaluation.jobplans import service as job_plans
from evaluation.jobplans.deps import MeasurementsLease
from evaluation.jobplans.schemas import (
    KpiCreate,
    KpiPage,
    KpiPublic,
    KpiRetire,
    KpiStatus,
    KpiUpdate,
    MeasurementHistoryPage,
    MeasurementHistoryPublic,
    MeasurementPage,
    MeasurementPublic,
    MeasurementResult,
)

router = APIRouter(prefix="/v1", tags=["kpis"])

IfMatch = IfMatchHeader
StatusQuery = Annotated[KpiStatus | None, Query(description="Only active or only retired KPIs; all without it.")]


def _with_etag(public: KpiPublic, tag: str, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": tag}
    if location:
        headers["Location"] = location
    return JSONResponse(public.model_dump(mode="json"), status_code=status, headers=headers)


@router.post(
    "/job-plans/{post_id}/kpis",
    operation_id="create_kpi",
    summary="Add a KPI to a job plan",
    status_code=201,
    response_model=KpiPublic,
    responses=merge_responses(problem_responses(403, 404, 422, 503), response_headers("ETag", on=(201,))),
)
def create_kpi(post: ManagedPost, body: KpiCreate, session: WriteSessionDep, principal: PrincipalDep) -> JSONResponse:
    """Add a KPI to the post's job plan (the plan must exist: 404 `job-plan-not-found`): its name,
    unit, direction (`higher_is_better`/`lower_is_better`), frequency (`weekly`/`monthly`), target
    and optional baseline. The target applies from the current period."""
    job_plans.get(session=session, post=post)
    public = kpis.create(session=session, post=post, principal=principal, body=body)
    return _with_etag(public, kpis.etag(public), 201, f"/v1/kpis/{public.id}")


@router.get(
    "/job-plans/{post_id}/kpis",
    operation_id="list_kpis",
    summary="List a post's KPIs",
    response_model=KpiPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def list_kpis(
    post: VisiblePost,
    request: Request,
    session: ReadSessionDep,
    status: StatusQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> KpiPage | Response:
    """The post's KPIs, oldest first, each with the target in force now and every target it has had."""
    after = decode_cursor(cursor, int)
    rows = repository.kpis_page(
        session, post.id, status=status, after=int(after[0]) if after else None, limit=limit + 1
    )
    page, next_ = next_cursor_for(list(rows), limit, lambda r: (r.id,))
    targets = repository.targets(session, [r.id for r in page])
    today = today_in_england()
    result = KpiPage(data=[kpis.public(r, targets[r.id], today) for r in page], next_cursor=next_)
    return page_or_csv(request, format, result, filename=f"post-{post.id}-kpis.csv")


@router.get(
    "/kpis/{kpi_id}",
    operation_id="get_kpi",
    summary="Get a KPI",
    response_model=KpiPublic,
    responses=merge_responses(problem_responses(403, 404, 422, 503), response_headers("ETag")),
)
def get_kpi(found: VisibleKpi, session: ReadSessionDep) -> JSONResponse:
    """One KPI, with its ETag."""
    public = kpis.read(session, found.kpi)
    return _with_etag(public, kpis.etag(found.kpi))


@router.patch(
    "/kpis/{kpi_id}",
    operation_id="update_kpi",
    summary="Edit a KPI",
    response_model=KpiPublic,
    responses=merge_responses(problem_responses(403, 404, 409, 412, 422, 428, 503), response_headers("ETag")),
)
def update_kpi(
    found: ManagedKpi, body: KpiUpdate, session: WriteSessionDep, principal: PrincipalDep, if_match: IfMatch = None
) -> JSONResponse:
    """Change a KPI's name, unit, baseline or how it is measured, or set a new target from a period on
    (`target_effective_from`, a period start; default the current period): earlier periods keep the
    target they were measured against. Needs `If-Match`. A retired KPI cannot change (409)."""
    kpi = kpis.update(session=session, kpi_id=found.kpi.id, principal=principal, body=body, if_match=if_match)
    return _with_etag(kpis.read(session, kpi), kpis.etag(kpi))


@router.post(
    "/kpis/{kpi_id}/retire",
    operation_id="retire_kpi",
    summary="Retire a KPI",
    response_model=KpiPublic,
    responses=merge_responses(problem_responses(403, 404, 409, 422, 503), response_headers("ETag")),
)
def retire_kpi(
    found: ManagedKpi,
    session: WriteSessionDep,
    principal: PrincipalDep,
    # Optional, yet a named schema (not `KpiRetire | null`) for client generators: no body is `{}`.
    body: Annotated[KpiRetire, Body(default_factory=KpiRetire)],
) -> JSONResponse:
    """Retire a KPI: it keeps its measurements and history, takes no more, and no longer counts
    towards a post's drift or overdue measurements. Retiring twice is 409 `kpi-retired`."""
    kpi = kpis.retire(session=session, kpi_id=found.kpi.id, principal=principal, body=body)
    return _with_etag(kpis.read(session, kpi), kpis.etag(kpi))


@router.post(
    "/kpis/{kpi_id}/measurements",
    operation_id="record_measurements",
    summary="Record KPI measurements",
    response_model=MeasurementResult,
    responses=problem_responses(403, 404, 409, 422, 503),
)
def record_measurements(
    leased: MeasurementsLease, request: Request, session: WriteSessionDep, principal: PrincipalDep
) -> MeasurementResult:
    """Record values `[{period_start, value}]` (up to 500). A period starts on a Monday for a weekly
    KPI and on the 1st for a monthly one, and must have started. A period that already has a value is
    replaced (counted in `replaced`); every value ever sent stays in `/measurements/history`. Any bad
    item refuses the whole batch (422 `invalid-measurements` listing each). With an
    `Idempotency-Key`, a retry replays the first answer."""
    return kpis.record(
        session=session,
        kpi_id=leased.found.kpi.id,
        principal=principal,
        batch=leased.batch.root,
        request_id=request.scope["state"].get("request_id"),
        lease=leased.lease,
    )


@router.get(
    "/kpis/{kpi_id}/measurements",
    operation_id="list_measurements",
    summary="List a KPI's measurements",
    response_model=MeasurementPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def list_measurements(
    found: VisibleKpi,
    request: Request,
    session: ReadSessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> MeasurementPage | Response:
    """The KPI's current value for each period, oldest first."""
    assert found.kpi.id is not None
    after = decode_cursor(cursor, str)
    start = _period_cursor(after)
    rows = repository.measurements_page(session, found.kpi.id, after=start, limit=limit + 1)
    page, next_ = next_cursor_for(list(rows), limit, lambda r: (r.period_start.isoformat(),))
    result = MeasurementPage(
        data=[MeasurementPublic.model_validate(r, from_attributes=True) for r in page], next_cursor=next_
    )
    return page_or_csv(request, format, result, filename=f"kpi-{found.kpi.id}-measurements.csv")


def _period_cursor(after: Sequence[int | str] | None) -> date | None:
    if after is None:
        return None
    try:
        return date.fromisoformat(str(after[0]))
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list; start again without one.") from exc


@router.get(
    "/kpis/{kpi_id}/measurements/history",
    operation_id="list_measurement_history",
    summary="List every value submitted for a KPI",
    response_model=MeasurementHistoryPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def list_measurement_history(
    found: VisibleKpi,
    request: Request,
    session: ReadSessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> MeasurementHistoryPage | Response:
    """Every value ever submitted for the KPI, oldest first, with the value each one replaced."""
    assert found.kpi.id is not None
    after = decode_cursor(cursor, int)
    rows = repository.history_page(session, found.kpi.id, after=int(after[0]) if after else None, limit=limit + 1)
    page, next_ = next_cursor_for(list(rows), limit, lambda r: (r.id,))
    result = MeasurementHistoryPage(
        data=[MeasurementHistoryPublic.model_validate(r, from_attributes=True) for r in page], next_cursor=next_
    )
    return page_or_csv(request, format, result, filename=f"kpi-{found.kpi.id}-history.csv")
