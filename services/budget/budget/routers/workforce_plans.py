"""HTTP endpoints of a PCN's workforce plans."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import FormatQuery, csv_response, wants_csv
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import AuthorisedRoute, CatalogueDep, FyPath, IfMatchPlan, OwnPcn, PcnCodePath, ReadablePcn
from budget.routers.docs import OUTAGE, csv_doc
from budget.schemas.workforce_plans import WorkforcePlanPublic, WorkforcePlanPut
from budget.service.planning import workforce_plans

router = APIRouter(prefix="/v1", tags=["planning"], route_class=AuthorisedRoute)


@router.put(
    "/pcns/{pcn_code}/workforce-plans/{fy}",
    operation_id="put_workforce_plan",
    summary="Set a PCN's workforce plan",
    response_model=WorkforcePlanPublic,
    responses=merge_responses(
        {
            201: {"model": WorkforcePlanPublic, "description": "The first plan of the year, created"},
            **problem_responses(403, 404, 412, 422, 428, 503),
        },
        response_headers("ETag", on=(200, 201)),
    ),
    description="The PCN itself (or an admin): set the PCN's workforce plan for a financial year, planned WTE by "
    "role with a phase (1 to 4) and an intended start month inside the year; the body replaces the whole plan. "
    "Those who read the PCN but may not set its plan (its ICB, dashboards): 403; those who may not read it: 404 "
    "`pcn-not-found`, as for no such PCN.\n\n"
    "The first plan of a year is created without `If-Match` (201; an `If-Match` then is 412, there is nothing to "
    "match). A replacement needs `If-Match` with the ETag last read (428 without, 412 when stale) and answers 200; "
    "the plan it replaces is kept in `history` with who set it and who replaced it. The same lines again change "
    "nothing (200, same ETag).\n\n"
    "422 `validation-error` for a malformed body (two lines of one role in one phase included); 422 "
    "`month-outside-financial-year` for a start month outside the year; 422 `role-not-claimable` for a role the "
    "catalogue does not have or that is not claimable on its start month (`checks` lists every failing line)." + OUTAGE,
)
def put_workforce_plan(
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: WorkforcePlanPut,
    pcn: OwnPcn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    if_match: IfMatchPlan = None,
) -> JSONResponse:
    public, etag, created = workforce_plans.put_plan(
        session=session, catalogue=catalogue, principal=principal, pcn=pcn, fy=fy, data=data, if_match=if_match
    )
    headers = {"ETag": etag}
    if created:
        headers["Location"] = f"/v1/pcns/{public.pcn_code}/workforce-plans/{public.fy}"
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if created else 200, headers=headers)


@router.get(
    "/pcns/{pcn_code}/workforce-plans/{fy}",
    operation_id="get_workforce_plan",
    summary="Get a PCN's workforce plan",
    response_model=WorkforcePlanPublic,
    responses=merge_responses(
        {**csv_doc("the comparison, one row per role"), **problem_responses(404, 422)}, response_headers("ETag")
    ),
    description="The PCN's workforce plan for a financial year with its ETag, the plans it replaced, and per role "
    "a comparison of plan, posts and claims (`comparison`: planned WTE in total and due by `as_of`, WTE in post, "
    "WTE claimed in the latest claimed month, the gaps and a status). Anyone who may read the PCN; outside scope "
    "404 `pcn-not-found`; 404 `workforce-plan-not-found` when the PCN has set no plan for the year.\n\n"
    "`?format=csv` (or `Accept: text/csv`) answers the comparison, one flat row per role, for dashboards.",
)
def get_workforce_plan(
    pcn_code: PcnCodePath,
    fy: FyPath,
    pcn: ReadablePcn,
    request: Request,
    session: ReadSessionDep,
    response: Response,
    format: FormatQuery = None,
) -> WorkforcePlanPublic | Response:
    public, etag = workforce_plans.get_plan(session=session, pcn=pcn, fy=fy)
    if wants_csv(request, format):
        csv = csv_response(
            workforce_plans.comparison_rows(public),
            next_cursor=None,
            filename=f"workforce-plan-{public.pcn_code}-{public.fy}",
        )
        csv.headers["ETag"] = etag
        return csv
    response.headers["ETag"] = etag
    return public
