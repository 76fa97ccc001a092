"""HTTP endpoints of a PCN's forecast and its headroom for a role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from arrs_kit.db import ReadSessionDep
from arrs_kit.pagination import FormatQuery, csv_response, wants_csv
from arrs_kit.problems import problem_responses
from budget.clients.roles import normalise_band
from budget.deps import AuthorisedRoute, CatalogueDep, FyQuery, PcnCodePath, ReadablePcn
from budget.routers.docs import OUTAGE, csv_doc
from budget.schemas.claims import CLAIM_MONTH_PATTERN
from budget.schemas.common import Geography
from budget.schemas.planning import ForecastPublic, HeadroomPublic
from budget.schemas.posts import ROLE_CODE_PATTERN
from budget.service.planning import forecast, headroom

router = APIRouter(prefix="/v1", tags=["planning"], route_class=AuthorisedRoute)


@router.get(
    "/pcns/{pcn_code}/forecast",
    operation_id="get_forecast",
    summary="Forecast a PCN's outturn",
    response_model=ForecastPublic,
    responses={**csv_doc("one row per post and month"), **problem_responses(404, 422, 503)},
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
    pcn: ReadablePcn,
    request: Request,
    session: ReadSessionDep,
    catalogue: CatalogueDep,
    format: FormatQuery = None,
) -> ForecastPublic | Response:
    public = forecast.forecast(session=session, catalogue=catalogue, pcn=pcn, fy=fy)
    if wants_csv(request, format):
        return csv_response(
            forecast.forecast_rows(public), next_cursor=None, filename=f"forecast-{public.pcn_code}-{public.fy}"
        )
    return public


@router.get(
    "/pcns/{pcn_code}/headroom",
    operation_id="get_headroom",
    summary="Headroom for a role at a PCN",
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
    pcn: ReadablePcn,
    session: ReadSessionDep,
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
    afc_band: Annotated[
        str | None,
        Query(
            pattern=r"^([Bb][Aa][Nn][Dd] ?)?[1-9][a-dA-D]?$",
            description="For a role paid by AfC band (mental health and advanced practitioners): the new "
            "post's band, e.g. `7`.",
        ),
    ] = None,
) -> HeadroomPublic:
    return headroom.headroom(
        session=session,
        catalogue=catalogue,
        pcn=pcn,
        role_code=role_code,
        from_month=from_month,
        geography=geography,
        afc_band=normalise_band(afc_band) if afc_band else None,
    )
