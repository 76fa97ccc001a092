"""HTTP endpoints of true cost and retention."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from arrs_kit.db import ReadSessionDep
from arrs_kit.pagination import CSV_RESPONSE_DOC, FormatQuery, csv_response, wants_csv
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from evaluation.access import ReaderDep, VisiblePcn, budget_of
from evaluation.analyses import costs, repository
from evaluation.analyses.retention import retention
from evaluation.analyses.routers import AsOfQuery
from evaluation.analyses.schemas import RetentionPage, TrueCost, TrueCostRows
from evaluation.clock import today_in_england
from evaluation.errors import PcnNotFound
from evaluation.periods import financial_year

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

FyQuery = Annotated[
    str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])
]


@router.get(
    "/pcns/{pcn_code}/true-cost",
    operation_id="get_true_cost",
    summary="True cost of a PCN's posts",
    response_model=TrueCost,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def get_true_cost(
    pcn: VisiblePcn,
    fy: FyQuery,
    principal: PrincipalDep,
    request: Request,
    session: ReadSessionDep,
    format: FormatQuery = None,
    rows: Annotated[TrueCostRows, Query(description="As CSV: the per-post or per-role rows.")] = "posts",
) -> TrueCost | Response:
    """What each post costs the PCN, month by month of the financial year: reimbursed (approved and
    paid claims), the claimed employment cost, the unfunded costs it carries (for the days in post),
    the true cost and the gap the PCN pays itself; and per role and month, the cost per attended
    appointment of that role at the PCN's practices."""
    first, last = financial_year(fy)
    budget = budget_of(request)
    posts = budget.posts(principal, pcn_code=pcn.code)
    claims = [c for status in costs.COUNTED for c in budget.claims(principal, pcn.code, status)]
    months = costs.months_of(first, last)
    per_post = costs.post_months(posts, claims, months)
    appointments = repository.role_appointments_by_month(
        session, pcn.practice_codes, sorted({p.role_code for p in posts}), first, last
    )
    per_role = costs.role_months(per_post, appointments)
    known = [r for r in per_post if r.true_cost_pence is not None]
    result = TrueCost(
        pcn_code=pcn.code,
        fy=fy,
        posts=per_post,
        roles=per_role,
        totals={
            "reimbursed_pence": sum(r.reimbursed_pence for r in per_post),
            "unfunded_pence": sum(r.unfunded_pence for r in per_post),
            "true_cost_pence": sum(r.true_cost_pence or 0 for r in known),
            "gap_pence": sum(r.gap_pence or 0 for r in known),
        },
    )
    if not wants_csv(request, format):
        return result
    table = result.posts if rows == "posts" else result.roles
    return csv_response(
        [{"pcn_code": pcn.code, "fy": fy, **r.model_dump()} for r in table],
        next_cursor=None,
        filename=f"{pcn.code}-{fy}-true-cost-{rows}.csv",
    )


@router.get(
    "/retention",
    operation_id="get_retention",
    summary="Retention of posts by role",
    response_model=RetentionPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 404, 422, 503)},
)
def get_retention(
    principal: ReaderDep,
    request: Request,
    icb_code: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{3}$", description="An ICB's PCNs.")] = None,
    pcn_code: Annotated[str | None, Query(pattern=r"^[Uu][0-9]{5}$", description="One PCN.")] = None,
    as_of: AsOfQuery = None,
    format: FormatQuery = None,
) -> RetentionPage | Response:
    """Per role: how many posts, how many started at least 12 months ago, how many of those ended within
    12 months of starting, the retention rate, and how many are in post now. For an ICB's PCNs, one
    PCN, or (without either) every post the caller may see."""
    budget = budget_of(request)
    today = as_of or today_in_england()
    if pcn_code is not None:
        if budget.pcn(principal, pcn_code.upper()) is None:
            raise PcnNotFound(f"No PCN {pcn_code.upper()}.")
        scope = f"pcn:{pcn_code.upper()}"
    elif icb_code is not None:
        scope = f"icb:{icb_code.upper()}"
    else:
        scope = f"{principal.kind}:{','.join(principal.org_codes)}" if principal.org_codes else "national"
    posts = budget.posts(
        principal, icb_code=icb_code.upper() if icb_code else None, pcn_code=pcn_code.upper() if pcn_code else None
    )
    result = RetentionPage(data=retention(posts, today), next_cursor=None, scope=scope, as_of=today)
    if not wants_csv(request, format):
        return result
    return csv_response(
        [{"scope": scope, "as_of": today, **r.model_dump()} for r in result.data],
        next_cursor=None,
        filename="retention.csv",
    )
