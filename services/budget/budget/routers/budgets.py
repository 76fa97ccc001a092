"""HTTP endpoints of PCN budgets and the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.etag import conditional, conditional_responses
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    DEFAULT_LIMIT,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    page_or_csv,
    rows_or_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import AuthorisedRoute, FyPath, ManagedPcn, PcnCodePath, ReadablePcn
from budget.kinds import ReaderDep
from budget.leases import AllocationLease, YearCloseLease
from budget.schemas.budgets import (
    AllocateResult,
    AllocationPublic,
    BudgetPage,
    BudgetPublic,
    PostingPage,
    YearClosePublic,
)
from budget.schemas.common import ICB_CODE_PATTERN
from budget.service import budgets

router = APIRouter(prefix="/v1", route_class=AuthorisedRoute)


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/allocate",
    tags=["budgets"],
    operation_id="allocate_budget",
    summary="Allocate a PCN's budget for a year",
    response_model=AllocateResult,
    responses={201: {"model": AllocateResult, "description": "Sums posted"}, **problem_responses(403, 404, 409, 422)},
)
def allocate_budget(
    pcn_code: PcnCodePath, fy: FyPath, pcn: ManagedPcn, session: WriteSessionDep, principal: PrincipalDep
) -> JSONResponse:
    """Admin or the PCN's ICB: compute the financial year's sums, round_half_up(rate per weighted
    patient × the PCN's weighted population at 1 January before the FY), for `arrs` and, where the
    year has a GP rate, `arrs_gp`, and post them to the ledger. 201 when something was posted; 200
    with the same body when nothing changed (calling again is safe, no `Idempotency-Key` needed).
    After a corrected rate or weighted population it posts the difference (a reduction needs that
    much available: 409 `budget-exceeded`). 422 `weighted-population-missing` or
    `funding-rate-missing` when an input is absent."""
    result, posted = budgets.allocate(session=session, principal=principal, pcn=pcn, fy=fy)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if posted else 200)


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/allocations",
    tags=["budgets"],
    operation_id="add_allocation",
    summary="Top up or reduce a PCN's budget",
    status_code=201,
    response_model=AllocationPublic,
    responses=problem_responses(403, 404, 409, 422),
)
def add_allocation(
    leased: AllocationLease,
    pcn: ManagedPcn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
) -> AllocationPublic:
    """The PCN's ICB (or an admin): record an allocation by amount with its reason: a top-up
    (positive `amount_pence`) or a reduction (negative; never more than is available, 409
    `budget-exceeded`, nothing written). With an `Idempotency-Key`, a retry replays the first answer
    instead of posting twice; the same key with another body is 422 `idempotency-key-reused`."""
    result = budgets.add_allocation(
        session=session, principal=principal, pcn=pcn, fy=leased.fy, data=leased.data, lease=leased.lease
    )
    response.headers["Location"] = f"/v1/pcns/{result.posting.pcn_code}/ledger"
    return result


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/close",
    tags=["budgets"],
    operation_id="close_budget_year",
    summary="Close a PCN's financial year",
    response_model=YearClosePublic,
    responses=problem_responses(403, 404, 409, 422),
)
def close_budget_year(
    leased: YearCloseLease,
    pcn: ManagedPcn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    request: Request,
) -> YearClosePublic:
    """The PCN's ICB (or an admin), once the year's claim window has ended (`BUDGET_CLAIM_WINDOW_MONTHS`
    after 31 March; default 30 June): close the financial year. What is still available in each pot
    lapses (`available` → `lapsed` on the ledger); unused money is not carried forward. After the
    close, claims for the year's months and allocations to it answer 422 `financial-year-closed`.
    Answers what lapsed, and the close report: per pot, allocated, held, approved, paid and lapsed.
    422 `claim-window-open` before the window ends; 409 `claims-outstanding` (with `claim_ids`) while a
    claim of the year is submitted, or approved and unpaid. Closing a closed year answers its close
    again and moves nothing; with an `Idempotency-Key` a retry replays the first answer."""
    return budgets.close_year(
        session=session,
        principal=principal,
        pcn=pcn,
        fy=leased.fy,
        claim_window_months=request.app.state.claim_window_months,
        lease=leased.lease,
    )


@router.get(
    "/pcns/{pcn_code}/budgets/{fy}",
    tags=["budgets"],
    operation_id="get_budget",
    summary="Get a PCN's budget for a year",
    response_model=BudgetPublic,
    responses={**conditional_responses(), **problem_responses(404, 422)},
)
def get_budget(
    pcn_code: PcnCodePath, fy: FyPath, pcn: ReadablePcn, request: Request, session: ReadSessionDep
) -> Response:
    """A PCN's budget for a financial year: per pot, what has been allocated, held by submitted
    claims, approved, paid and lapsed, and what is available. Outside the client's scope: 404.

    Conditional: the `ETag` is a digest of the answer; sent back as `If-None-Match`, it is answered 304
    with no body until a posting, a claim or a close changes the budget."""
    budget = budgets.get_budget(session=session, pcn=pcn, fy=fy)
    return conditional(request, Response(budget.model_dump_json(by_alias=True), media_type="application/json"))


@router.get(
    "/budgets",
    tags=["budgets"],
    operation_id="list_budgets",
    summary="List PCN budgets for a financial year",
    response_model=BudgetPage,
    responses={**conditional_responses(CSV_RESPONSE_DOC, vary=["Accept"]), **problem_responses(403, 422)},
)
def list_budgets(
    request: Request,
    session: ReadSessionDep,
    principal: ReaderDep,
    fy: Annotated[
        str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])
    ],
    icb_code: Annotated[
        str | None, Query(pattern=ICB_CODE_PATTERN, description="Only the PCNs of this ICB (any case).")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> BudgetPage | Response:
    """Every PCN's budget for a financial year, by PCN code (an ICB's dashboards and scorecards read
    them in one call): the PCNs the client may see, optionally of one ICB. Conditional, JSON and CSV
    alike: an `ETag` of the answer's bytes, 304 to an `If-None-Match` that names it."""
    rows, next_cursor = budgets.list_budgets(
        session=session, principal=principal, fy=fy, icb_code=icb_code, cursor=cursor, limit=limit
    )
    answer = rows_or_csv(request, format, rows, next_cursor=next_cursor, filename="budgets")
    return conditional(request, answer, vary=["Accept"])


@router.get(
    "/pcns/{pcn_code}/ledger",
    tags=["budgets"],
    operation_id="list_ledger",
    summary="List a PCN's ledger postings",
    response_model=PostingPage,
    responses={**conditional_responses(CSV_RESPONSE_DOC, vary=["Accept"]), **problem_responses(404, 422)},
)
def list_ledger(
    pcn_code: PcnCodePath,
    pcn: ReadablePcn,
    request: Request,
    session: ReadSessionDep,
    fy: Annotated[
        str | None, Query(min_length=7, max_length=7, description="Only this financial year (`YYYY-YY`).")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> PostingPage | Response:
    """A PCN's ledger postings, oldest first: each moves `amount_pence` from `debit_account` to
    `credit_account` of one pot, with its kind, reason and who posted it. Outside scope: 404.
    Conditional, JSON and CSV alike: an `ETag` of the answer's bytes, 304 to an `If-None-Match` that
    names it."""
    items, next_cursor = budgets.list_ledger(session=session, pcn=pcn, fy=fy, cursor=cursor, limit=limit)
    page = PostingPage(data=items, next_cursor=next_cursor)
    return conditional(
        request, page_or_csv(request, format, page, filename=f"ledger-{pcn_code.upper()}"), vary=["Accept"]
    )
