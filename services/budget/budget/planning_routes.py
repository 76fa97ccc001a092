"""HTTP endpoints of planning: a PCN's forecast, its headroom for a role, and its workforce plans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.pagination import FormatQuery, csv_response, wants_csv
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.claim_routes import CatalogueDep
from budget.planning_schemas import ForecastPublic, HeadroomPublic, WorkforcePlanPublic, WorkforcePlanPut
from budget.schemas import CLAIM_MONTH_PATTERN, PCN_CODE_PATTERN, ROLE_CODE_PATTERN, Geography
from budget.service import planning

router = APIRouter(prefix="/v1", tags=["planning"])

PcnCodePath = Annotated[
    str, Path(pattern=PCN_CODE_PATTERN, description="PCN code, `U` and 5 digits (any case).", examples=["U12345"])
]
FyPath = Annotated[str, Path(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])]
FyQuery = Annotated[
    str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY` (required).", examples=["2024-25"])
]
IfMatchHeader = Annotated[
    str | None,
    Header(description="The plan's ETag you last read: required to replace a plan, absent to create the first one."),
]


def _csv_doc(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": f"JSON, or {what} as CSV."}}


OUTAGE = (
    " 503 `roles-unavailable` when the role catalogue cannot be read: nothing is computed with a guessed rate"
    " (at once, with `Retry-After` and a `reason`, while too many calls wait for it or after repeated failures)."
)


@router.get(
    "/pcns/{pcn_code}/forecast",
    operation_id="get_forecast",
    response_model=ForecastPublic,
    responses={**_csv_doc("one row per post and month"), **problem_responses(404, 422, 503)},
    description="The PCN's projected outturn and lapse for a financial year, per pot and per post, to the penny. "
    "Anyone who may read the PCN (its ICB, dashboards in scope, the PCN itself, admins); outside scope 404.\n\n"
    "Per pot: `projected_outturn_pence` = paid + approved + held + projected, and `projected_lapse_pence` = "
    "allocated − outturn (negative: an overspend risk).\n\n"
    "Per post (every post in post on a day of the year, or with a live claim in it), the twelve months: a month "
    "with a submitted, approved or paid claim is `claimed` (its money is already in held, approved or paid); a "
    "month with a draft is projected at the draft's reimbursable amount (`draft`); every other month is projected "
    "exactly as a claim for it would be computed (the rate in force on the 1st, the post's WTE, its days in post "
    "that month, the funding share, rounded half up once) at the post's last claimed `actual_pence` (its latest "
    "live claim for a whole month, drafts included) or, without one, at its cap (`basis`). Months outside the "
    "post's dates, a baseline post, or a role not claimable that month project 0 with the check's code as "
    "`reason`; a month with no rate in force is `unprojected` with reason `rate-not-published` and counted in "
    "the pot's `unprojected_months` rather than failing the forecast.\n\n"
    "`?format=csv` (or `Accept: text/csv`) answers one flat row per post and month, for dashboards. "
    "422 `invalid-financial-year` for a bad `fy`." + OUTAGE,
)
def get_forecast(
    pcn_code: PcnCodePath,
    fy: FyQuery,
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    format: FormatQuery = None,
) -> ForecastPublic | Response:
    public = planning.forecast(session=session, catalogue=catalogue, principal=principal, code=pcn_code, fy=fy)
    if wants_csv(request, format):
        return csv_response(
            planning.forecast_rows(public), next_cursor=None, filename=f"forecast-{public.pcn_code}-{public.fy}"
        )
    return public


@router.get(
    "/pcns/{pcn_code}/headroom",
    operation_id="get_headroom",
    response_model=HeadroomPublic,
    responses=problem_responses(404, 422, 503),
    description="The whole-time equivalents of a role the PCN could still afford from `from_month` to the end "
    "of that month's financial year. Anyone who may read the PCN; outside scope 404.\n\n"
    "`headroom_pence` = the pot's `available_pence` − `committed_pence`, what the existing posts are projected to "
    "claim for the months they have not claimed yet (the forecast's `projected_pence` of the pot the role draws "
    "on: `arrs_gp` for a GP in a year with a GP pot, else `arrs`). Each month costs, per WTE, what a claim at the "
    "cap would reimburse: the rate in force on its 1st for `geography` ÷ 12 × the role's funding share, rounded "
    "half up (`months`, `cost_per_wte_pence`). `affordable_wte` is the most WTE, in steps of 0.01 rounded down, "
    "whose claims, computed month by month as claims are, fit in the headroom (`0.00` when nothing does); it "
    "counts money only, not the role's cap (`role_cap`, for information).\n\n"
    "422 `role-not-claimable` for a role the catalogue does not have or that is claimable in none of the months; "
    "422 `rate-not-published` when a month has no rate in force for the geography (`months` lists them); 422 "
    "`invalid-financial-year` for a month outside 2000-01 to 2098-99's years." + OUTAGE,
)
def get_headroom(
    pcn_code: PcnCodePath,
    session: ReadSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    role_code: Annotated[
        str,
        Query(
            min_length=2,
            max_length=64,
            pattern=ROLE_CODE_PATTERN,
            description="A role code of the catalogue.",
            examples=["clinical_pharmacist"],
        ),
    ],
    from_month: Annotated[
        str,
        Query(
            pattern=CLAIM_MONTH_PATTERN, description="The first month of the new post, `YYYY-MM`.", examples=["2024-07"]
        ),
    ],
    geography: Annotated[Geography, Query(description="The rate column of the new post.")] = "national",
) -> HeadroomPublic:
    return planning.headroom(
        session=session,
        catalogue=catalogue,
        principal=principal,
        code=pcn_code,
        role_code=role_code,
        from_month=from_month,
        geography=geography,
    )


@router.put(
    "/pcns/{pcn_code}/workforce-plans/{fy}",
    operation_id="put_workforce_plan",
    response_model=WorkforcePlanPublic,
    responses={
        201: {"model": WorkforcePlanPublic, "description": "The first plan of the year, created"},
        **problem_responses(403, 404, 412, 422, 428, 503),
    },
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
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    if_match: IfMatchHeader = None,
) -> JSONResponse:
    public, etag, created = planning.put_plan(
        session=session, catalogue=catalogue, principal=principal, code=pcn_code, fy=fy, data=data, if_match=if_match
    )
    headers = {"ETag": etag}
    if created:
        headers["Location"] = f"/v1/pcns/{public.pcn_code}/workforce-plans/{public.fy}"
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if created else 200, headers=headers)


@router.get(
    "/pcns/{pcn_code}/workforce-plans/{fy}",
    operation_id="get_workforce_plan",
    response_model=WorkforcePlanPublic,
    responses={**_csv_doc("the comparison, one row per role"), **problem_responses(404, 422)},
    description="The PCN's workforce plan for a financial year with its ETag, the plans it replaced, and per role "
    "a comparison of plan, posts and claims (`comparison`: planned WTE in total and due by `as_of`, WTE in post, "
    "WTE claimed in the latest claimed month, the gaps and a status). Anyone who may read the PCN; outside scope "
    "404 `pcn-not-found`; 404 `workforce-plan-not-found` when the PCN has set no plan for the year.\n\n"
    "`?format=csv` (or `Accept: text/csv`) answers the comparison, one flat row per role, for dashboards.",
)
def get_workforce_plan(
    pcn_code: PcnCodePath,
    fy: FyPath,
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    response: Response,
    format: FormatQuery = None,
) -> WorkforcePlanPublic | Response:
    public, etag = planning.get_plan(session=session, principal=principal, code=pcn_code, fy=fy)
    if wants_csv(request, format):
        csv = csv_response(
            planning.comparison_rows(public), next_cursor=None, filename=f"workforce-plan-{public.pcn_code}-{public.fy}"
        )
        csv.headers["ETag"] = etag
        return csv
    response.headers["ETag"] = etag
    return public
