"""HTTP endpoints of job plans: ``/v1/job-plans/{post_id}`` and its versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
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
from evaluation.access import ManagedPost, VisiblePost
from evaluation.clients.roles import RolesClient
from evaluation.jobplans import repository, service
from evaluation.jobplans.schemas import JobPlanBody, JobPlanFromTemplate, JobPlanPublic, JobPlanVersionPage

router = APIRouter(prefix="/v1/job-plans", tags=["job-plans"])

IfMatch = Annotated[
    str | None,
    Header(description="The ETag of the job plan you last read: required to replace one, absent to create one."),
]
VersionPath = Annotated[int, Path(ge=1, le=1_000_000, description="A version of the job plan (1 is the first).")]


def _with_etag(public: JobPlanPublic, tag: str, status: int = 200) -> JSONResponse:
    return JSONResponse(public.model_dump(mode="json"), status_code=status, headers={"ETag": tag})


@router.put(
    "/{post_id}",
    operation_id="put_job_plan",
    summary="Set a post's job plan",
    response_model=JobPlanPublic,
    responses=merge_responses(
        {
            201: {"model": JobPlanPublic, "description": "Created"},
            **problem_responses(403, 404, 409, 412, 422, 428, 503),
        },
        response_headers("ETag", on=(200, 201)),
    ),
)
def put_job_plan(
    post: ManagedPost, body: JobPlanBody, session: WriteSessionDep, principal: PrincipalDep, if_match: IfMatch = None
) -> JSONResponse:
    """The post's job plan: its answers to the six questions (purpose, how the role works, the named
    people, expected outcomes, how they are measured, supervision). The first PUT creates it (201);
    a later one replaces it with `If-Match` (428 without, 412 if stale), and the replaced version stays
    readable under `/versions`. The PCN (or an admin) writes; its ICB and dashboards read."""
    plan, created = service.put(session=session, post=post, principal=principal, body=body, if_match=if_match)
    return _with_etag(service.public(plan), service.etag(plan), 201 if created else 200)


@router.get(
    "/{post_id}",
    operation_id="get_job_plan",
    summary="Get a post's job plan",
    response_model=JobPlanPublic,
    responses=merge_responses(problem_responses(403, 404, 422, 503), response_headers("ETag")),
)
def get_job_plan(post: VisiblePost, session: ReadSessionDep) -> JSONResponse:
    """The current job plan, with which of the six questions are still `unanswered`, and its ETag."""
    plan = service.get(session=session, post=post)
    return _with_etag(service.public(plan), service.etag(plan))


@router.get(
    "/{post_id}/versions",
    operation_id="list_job_plan_versions",
    summary="List a job plan's versions",
    response_model=JobPlanVersionPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def list_job_plan_versions(
    post: VisiblePost,
    request: Request,
    session: ReadSessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> JobPlanVersionPage | Response:
    """Every version of the post's job plan, newest first (each replacement keeps the one before)."""
    after = decode_cursor(cursor, int)
    rows = repository.job_plan_versions(session, post.id, before=int(after[0]) if after else None, limit=limit + 1)
    page, next_ = next_cursor_for(list(rows), limit, lambda r: (r.version,))
    result = JobPlanVersionPage(data=[service.public(r) for r in page], next_cursor=next_)
    return page_or_csv(request, format, result, filename=f"job-plan-{post.id}-versions.csv")


@router.get(
    "/{post_id}/versions/{version}",
    operation_id="get_job_plan_version",
    summary="Get a job plan version",
    response_model=JobPlanPublic,
    responses=problem_responses(403, 404, 422, 503),
)
def get_job_plan_version(post: VisiblePost, version: VersionPath, session: ReadSessionDep) -> JobPlanPublic:
    """One version of the post's job plan, current or replaced."""
    return service.public(service.get_version(session=session, post=post, version=version))


@router.post(
    "/{post_id}/from-template",
    operation_id="start_job_plan_from_template",
    summary="Start a job plan from the role's template",
    status_code=201,
    response_model=JobPlanFromTemplate,
    responses=merge_responses(problem_responses(403, 404, 409, 422, 503), response_headers("ETag", on=(201,))),
)
def start_job_plan_from_template(
    post: ManagedPost, request: Request, session: WriteSessionDep, principal: PrincipalDep, response: Response
) -> JobPlanFromTemplate:
    """Start the post's job plan from its role's template in the catalogue: its purpose and
    responsibilities, the post's practices and supervisor, the role's supervision frequency and the
    template's KPIs as expected outcomes. It answers the template's suggested KPIs too: add each with
    the PCN's own target. The named accountable person is left for the PCN to fill in. 409 if the post
    already has a job plan; 503 `roles-unavailable` if the catalogue cannot be read."""
    roles: RolesClient = request.app.state.roles
    plan, suggested = service.from_template(session=session, post=post, principal=principal, roles=roles)
    response.headers["ETag"] = service.etag(plan)
    response.headers["Location"] = f"/v1/job-plans/{post.id}"
    return service.response(plan, suggested)
