"""HTTP endpoints of the role catalogue: ``/v1/roles`` and ``/v1/rates``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from arrs_kit.db import WriteSessionDep
from arrs_kit.etag import IfMatchHeader, conditional_responses
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    DEFAULT_LIMIT,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    page_or_csv,
    wants_csv,
)
from arrs_kit.problems import problem_responses
from arrs_kit.types import BoundedDate
from roles import gaps, imports, rate_table, rates, service
from roles.access import AdminDep, ReaderDep
from roles.deps import RateImportLease, RatePeriodLease, RoleCodePath
from roles.schemas import (
    CapPublic,
    CapUpsert,
    FundingShareCreate,
    FundingSharePublic,
    Geography,
    JobPlanTemplatePublic,
    JobPlanTemplateUpsert,
    RateGapPage,
    RateImportResult,
    RatePage,
    RatePeriodPublic,
    RoleCreate,
    RoleDetail,
    RolePage,
    RoleUpdate,
    SupervisionPublic,
    SupervisionUpsert,
)
from roles.snapshot import Answer, answer_of, current_snapshot, kept_read, served

router = APIRouter(prefix="/v1")

FyPath = Annotated[str, Path(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])]
IfMatch = IfMatchHeader
JSON = "application/json"


def _list_read() -> dict[int | str, dict[str, Any]]:
    """Every catalogue read is conditional (``arrs_kit.etag.conditional``): an ETag of its bytes,
    ``Cache-Control: private, no-cache``, 304 to an ``If-None-Match`` that names it. A list chooses CSV
    by ``Accept`` as well as ``format``: ``Vary: Accept``. (A new dict for each route.)"""
    return conditional_responses(CSV_RESPONSE_DOC, vary=["Accept"])


ROLE_ETAG = (
    "The role's entity tag (strong: a digest of this answer, so it moves with any change to what the answer "
    "shows). Send it as `If-None-Match` to re-read (304 while unchanged) and as `If-Match` to edit."
)


@router.get(
    "/roles",
    tags=["roles"],
    operation_id="list_roles",
    summary="List roles",
    response_model=RolePage,
    responses={**_list_read(), **problem_responses(403, 422)},
)
async def list_roles(
    request: Request,
    _principal: ReaderDep,
    claimable_on: Annotated[BoundedDate | None, Query(description="Only roles claimable on this day.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> RolePage | Response:
    """The role catalogue, ordered by code. Any client but a practice system may read it."""

    def build(session: Session) -> Response:
        items, next_cursor = service.list_roles(session=session, claimable_on=claimable_on, cursor=cursor, limit=limit)
        return page_or_csv(request, format, RolePage(data=items, next_cursor=next_cursor), filename="roles")

    key = ("roles", claimable_on, cursor, limit, wants_csv(request, format))
    snapshot, kept = await kept_read(request, key, build)
    return served(request, snapshot, kept, vary=["Accept"])


@router.post(
    "/roles",
    tags=["roles"],
    operation_id="create_role",
    summary="Add a role",
    status_code=201,
    response_model=RoleDetail,
    responses=merge_responses(problem_responses(403, 409, 422), response_headers("ETag", on=(201,))),
)
def create_role(data: RoleCreate, session: WriteSessionDep, principal: AdminDep) -> Response:
    """Admin: add a role to the catalogue (e.g. one a new DES year makes claimable)."""
    content, etag = service.create_role(session=session, principal=principal, data=data)
    headers = {"ETag": etag, "Location": f"/v1/roles/{data.code}"}
    return Response(content, status_code=201, media_type=JSON, headers=headers)


@router.get(
    "/roles/{role_code}",
    tags=["roles"],
    operation_id="get_role",
    summary="Get a role",
    response_model=RoleDetail,
    responses={**conditional_responses(etag_description=ROLE_ETAG), **problem_responses(403, 404)},
)
async def get_role(role_code: RoleCodePath, request: Request, _principal: ReaderDep) -> Response:
    """One role with every rate period (current and superseded), funding shares, caps and supervision.
    Its ETag is the one an edit needs in `If-Match`; as `If-None-Match` it answers 304 while unchanged."""

    def build(session: Session) -> Response:
        content, _etag = service.get_role(session=session, code=role_code)
        return Response(content, media_type=JSON)

    snapshot, kept = await kept_read(request, ("role", role_code), build)
    return served(request, snapshot, kept)


@router.patch(
    "/roles/{role_code}",
    tags=["roles"],
    operation_id="update_role",
    summary="Edit a role",
    response_model=RoleDetail,
    responses=merge_responses(problem_responses(403, 404, 412, 422, 428), response_headers("ETag")),
)
def update_role(
    role_code: RoleCodePath,
    data: RoleUpdate,
    session: WriteSessionDep,
    principal: AdminDep,
    if_match: IfMatch = None,
) -> Response:
    """Admin: change a role's descriptive fields or retire it. Needs `If-Match` with the role's ETag
    (the one `GET /v1/roles/{role_code}` answered: a new rate period, share, cap or supervision moves it
    too)."""
    content, etag = service.update_role(
        session=session, principal=principal, code=role_code, data=data, if_match=if_match
    )
    return Response(content, media_type=JSON, headers={"ETag": etag})


@router.post(
    "/roles/{role_code}/rates",
    tags=["rates"],
    operation_id="add_rate_period",
    summary="Add a rate period",
    status_code=201,
    response_model=RatePeriodPublic,
    responses=problem_responses(403, 404, 409, 422),
)
def add_rate_period(
    leased: RatePeriodLease, role_code: RoleCodePath, session: WriteSessionDep, principal: AdminDep, response: Response
) -> RatePeriodPublic:
    """Admin: add a rate period. Periods are never edited: to correct one, add a period with
    `supersedes_id`; the old one stays readable with status `superseded`. With an `Idempotency-Key`,
    a retry replays the first answer instead of adding the period twice."""
    result = service.add_rate_period(
        session=session, principal=principal, code=role_code, data=leased.data, lease=leased.lease
    )
    response.headers["Location"] = f"/v1/roles/{result.role_code}"
    return result


@router.post(
    "/roles/{role_code}/funding-shares",
    tags=["roles"],
    operation_id="add_funding_share",
    summary="Add a role's funding share",
    status_code=201,
    response_model=list[FundingSharePublic],
    responses=problem_responses(403, 404, 409, 422),
)
def add_funding_share(
    role_code: RoleCodePath, data: FundingShareCreate, session: WriteSessionDep, principal: AdminDep
) -> list[FundingSharePublic]:
    """Admin: add a funding share from a date; answers the role's shares."""
    return service.add_funding_share(session=session, principal=principal, code=role_code, data=data)


@router.put(
    "/roles/{role_code}/caps/{fy}",
    tags=["roles"],
    operation_id="put_role_cap",
    summary="Set a role's cap for a year",
    response_model=CapPublic,
    responses={201: {"model": CapPublic, "description": "Created"}, **problem_responses(403, 404, 422)},
)
def put_role_cap(
    role_code: RoleCodePath, fy: FyPath, data: CapUpsert, session: WriteSessionDep, principal: AdminDep
) -> JSONResponse:
    """Admin: set the most posts (or WTE) of a role a PCN may claim in a financial year."""
    cap, created = service.put_cap(session=session, principal=principal, code=role_code, fy=fy, data=data)
    return JSONResponse(cap.model_dump(mode="json"), status_code=201 if created else 200)


@router.put(
    "/roles/{role_code}/supervision",
    tags=["roles"],
    operation_id="put_supervision_requirement",
    summary="Set a role's supervision requirement",
    response_model=SupervisionPublic,
    responses=problem_responses(403, 404, 422),
)
def put_supervision(
    role_code: RoleCodePath, data: SupervisionUpsert, session: WriteSessionDep, principal: AdminDep
) -> SupervisionPublic:
    """Admin: set who supervises the role and how often."""
    return service.put_supervision(session=session, principal=principal, code=role_code, data=data)


@router.get(
    "/roles/{role_code}/job-plan-template",
    tags=["roles"],
    operation_id="get_job_plan_template",
    summary="Get a role's job-plan template",
    response_model=JobPlanTemplatePublic,
    responses={**conditional_responses(), **problem_responses(403, 404)},
)
async def get_job_plan_template(role_code: RoleCodePath, request: Request, _principal: ReaderDep) -> Response:
    """Suggested purpose, responsibilities, outcome KPIs and supervision for a post in this role.
    A PCN copies it into a post's job plan and adapts it; it is a suggestion, not a rule."""

    def build(session: Session) -> Response:
        template = service.get_template(session=session, code=role_code)
        return Response(template.model_dump_json(by_alias=True), media_type=JSON)

    snapshot, kept = await kept_read(request, ("template", role_code), build)
    return served(request, snapshot, kept)


@router.put(
    "/roles/{role_code}/job-plan-template",
    tags=["roles"],
    operation_id="put_job_plan_template",
    summary="Set a role's job-plan template",
    response_model=JobPlanTemplatePublic,
    responses=problem_responses(403, 404, 422),
)
def put_job_plan_template(
    role_code: RoleCodePath, data: JobPlanTemplateUpsert, session: WriteSessionDep, principal: AdminDep
) -> JobPlanTemplatePublic:
    """Admin: replace a role's job-plan template."""
    return service.put_template(session=session, principal=principal, code=role_code, data=data)


@router.get(
    "/rates/gaps",
    tags=["rates"],
    operation_id="list_rate_gaps",
    summary="List missing rates",
    response_model=RateGapPage,
    responses={**_list_read(), **problem_responses(403, 422)},
)
async def list_rate_gaps(
    request: Request,
    _principal: ReaderDep,
    fy: Annotated[
        str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])
    ],
    geography: Annotated[Geography | None, Query(description="One geography; default every one.")] = None,
    role_code: Annotated[
        str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,63}$", description="One role; default every one.")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> RateGapPage | Response:
    """What the catalogue lacks: every claim month of the year in which a role is claimable but has no
    rate in force on the 1st, per geography the role is paid in (the ARRS GP: `national`, `london`;
    every other role: `national`, `outer_london`, `inner_london`), by role, geography and month. A
    claim for such a month is refused `rate-not-published` until a rate period is loaded."""

    def build(session: Session) -> Response:
        items, next_cursor = gaps.rate_gaps(
            session=session, fy=fy, geography=geography, role_code=role_code, cursor=cursor, limit=limit
        )
        page = RateGapPage(data=items, next_cursor=next_cursor, fy=fy)
        return page_or_csv(request, format, page, filename=f"rate-gaps-{fy}")

    key = ("gaps", fy, geography, role_code, cursor, limit, wants_csv(request, format))
    snapshot, kept = await kept_read(request, key, build)
    return served(request, snapshot, kept, vary=["Accept"])


RATE_TABLE_EXAMPLE = (
    "role_code,geography,afc_band,effective_from,annual_max_pence,provenance,source\n"
    "clinical_pharmacist,national,,2026-04-01,6900000,published,Network Contract DES 2026/27 Annex B\n"
    "mental_health_practitioner_adult,national,8a,2026-04-01,7550000,published,"
    "Network Contract DES 2026/27 Annex B\n"
)
IMPORT_DESCRIPTION = f"""Admin: load the official ARRS annex table of maximum reimbursement rates in one call.

The body is `text/csv` in UTF-8 (a byte-order mark is skipped), at most {rate_table.MAX_BYTES:,} bytes and
{rate_table.MAX_ROWS:,} rows (else 413 `payload-too-large`; any other Content-Type is 415). A header row names
the columns, in any order and any case: `role_code, geography, effective_from, annual_max_pence, source`,
and optionally `afc_band` (required for the banded roles, mental health and advanced practitioners;
empty for every other role) and `provenance` (`published` or `estimated`; absent or empty: `published`).
`annual_max_pence` is whole pence, `effective_from` `YYYY-MM-DD`. Cells are trimmed; blank lines are skipped.

Every row is checked before anything is written. Any bad row refuses the whole file: 422
`rate-import-invalid` with `errors: [{{row, line, column, code, detail, loc, msg}}]`, every problem of every
row listed (up to {imports.MAX_LISTED:,}; `error_count` gives the total). `row` is the data row, 1-based, the
header being row 0 (blank lines are not rows); `line` is the line of the file the row starts on.

Each row is keyed by (role, geography, AfC band, effective_from) against the current periods: no such
period, a new one (`created`); one with the same amount, nothing (`unchanged`, whatever its
provenance); an estimated one with another amount, a new period superseding it (`superseded`); a
published one with another amount, a conflict: 409 `rate-import-conflict` with `conflicts: [{{row, line,
role_code, geography, afc_band, effective_from, existing_rate_period_id, existing_annual_max_pence,
file_annual_max_pence}}]`, every such row listed, and nothing written (correct a published period with
`POST /v1/roles/{{role_code}}/rates` and `supersedes_id`).

All or nothing, in one transaction. Answers 200 with the counts and each row's outcome; loading the
same file again answers every row `unchanged`. With an `Idempotency-Key`, a retry replays the first
answer."""


@router.post(
    "/rates/imports",
    tags=["rates"],
    operation_id="import_rate_periods",
    summary="Load a table of maximum rates (CSV)",
    description=IMPORT_DESCRIPTION,
    response_model=RateImportResult,
    responses=problem_responses(401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The rate table: a header row, then one rate period a row.",
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "CSV with a header row, UTF-8."},
                    "example": RATE_TABLE_EXAMPLE,
                }
            },
        }
    },
)
def import_rate_periods(leased: RateImportLease, session: WriteSessionDep, principal: AdminDep) -> RateImportResult:
    """Admin: load a rate table (the description above is the OpenAPI text)."""
    return imports.import_rates(session=session, principal=principal, body=leased.body, lease=leased.lease)


@router.get(
    "/rates",
    tags=["rates"],
    operation_id="list_rates_in_force",
    summary="List the rates in force",
    response_model=RatePage,
    responses={**_list_read(), **problem_responses(403, 422)},
)
async def list_rates(
    request: Request,
    _principal: ReaderDep,
    on: Annotated[BoundedDate | None, Query(description="The day; default today in England.")] = None,
    month: Annotated[
        str | None,
        Query(
            pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
            description="A claim month `YYYY-MM`: the rates in force on its first day (instead of `on`).",
        ),
    ] = None,
    geography: Annotated[Geography | None, Query(description="One geography; default all four.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> RatePage | Response:
    """The maximum reimbursement rate in force on a day for every role that has one, by geography.
    A claim month uses the rate in force on its first day (uplifts take effect on the 1st): ask
    with `month=YYYY-MM`. Served from the replica's snapshot of the catalogue: a change made through
    another replica shows within `ROLES_CATALOGUE_CHECK_S` (1 s)."""
    day = rates.rate_day(on=on, month=month)
    snapshot = await current_snapshot(request)

    def build() -> Answer:
        items, next_cursor = rates.rates_in_force(
            names=snapshot.names, by_role=snapshot.periods, on=day, geography=geography, cursor=cursor, limit=limit
        )
        page = RatePage(data=items, next_cursor=next_cursor)
        return answer_of(page_or_csv(request, format, page, filename=f"rates-{day.isoformat()}"))

    kept = snapshot.answer(("rates", day, geography, cursor, limit, wants_csv(request, format)), build)
    return served(request, snapshot, kept, vary=["Accept"])
