"""HTTP endpoints of monthly claim returns (``/v1/claim-returns``, domain §6)."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader
from arrs_kit.pagination import CSV_RESPONSE_DOC, DEFAULT_LIMIT, CursorQuery, FormatQuery, LimitQuery, page_or_csv
from arrs_kit.principal import Principal, PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import (
    AuthorisedRoute,
    CatalogueDep,
    read_by_id,
    written_by_id,
)
from budget.leases import Leased, with_key
from budget.models import ClaimReturn
from budget.schemas.claim_returns import (
    ClaimReturnCreate,
    ClaimReturnPublic,
    ClaimReturnStatus,
    ReturnDeclaration,
    ReturnLinesApprove,
    ReturnLinesReject,
    ReturnPage,
    ReturnPay,
)
from budget.schemas.claims import CLAIM_MONTH_PATTERN
from budget.schemas.common import PCN_CODE_PATTERN
from budget.service import authz, claim_returns
from budget.service.claim_returns_csv import reconciliation_csv
from budget.service.common import ID_MAX

router = APIRouter(prefix="/v1", tags=["claim returns"], route_class=AuthorisedRoute)
T = TypeVar("T")

ReturnIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The claim return's id.", examples=[1])]


ReadableReturn = Annotated[ClaimReturn, Depends(read_by_id("return_id", authz.readable_return))]
PcnReturn = Annotated[ClaimReturn, Depends(written_by_id("return_id", authz.pcn_return))]
"""A return its PCN (or an admin) declares and submits, locked."""
IcbReturn = Annotated[ClaimReturn, Depends(written_by_id("return_id", authz.icb_return))]
"""A return its PCN's ICB (or an admin) decides and pays, locked."""


def _step(
    request: Request, session: Session, principal: Principal, key: str | None, step: str, return_id: int, data: T
) -> Leased[T]:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else None
    operation = f"{step}_claim_return:{return_id}"
    return with_key(request, session, principal, key, data, operation=operation, payload=payload)


async def _submit_lease(
    request: Request,
    return_id: ReturnIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[None]:
    return _step(request, session, principal, idempotency_key, "submit", return_id, None)


async def _approve_lease(
    request: Request,
    return_id: ReturnIdPath,
    data: ApproveBody,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[ReturnLinesApprove]:
    return _step(request, session, principal, idempotency_key, "approve", return_id, data)


async def _reject_lease(
    request: Request,
    return_id: ReturnIdPath,
    data: ReturnLinesReject,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[ReturnLinesReject]:
    return _step(request, session, principal, idempotency_key, "reject", return_id, data)


async def _pay_lease(
    request: Request,
    return_id: ReturnIdPath,
    data: ReturnPay,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[ReturnPay]:
    return _step(request, session, principal, idempotency_key, "pay", return_id, data)


# Optional, yet a named schema for client generators: no body is `{}` (every submitted line).
ApproveBody = Annotated[ReturnLinesApprove, Body(default_factory=ReturnLinesApprove)]
SubmitReturnLease = Annotated[Leased[None], Depends(_submit_lease)]
ApproveReturnLease = Annotated[Leased[ReturnLinesApprove], Depends(_approve_lease)]
RejectReturnLease = Annotated[Leased[ReturnLinesReject], Depends(_reject_lease)]
PayReturnLease = Annotated[Leased[ReturnPay], Depends(_pay_lease)]

STEPS = problem_responses(403, 404, 409, 422)


@router.post(
    "/claim-returns",
    operation_id="create_claim_return",
    summary="Open a monthly claim return",
    response_model=ClaimReturnPublic,
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def create_claim_return(
    data: ClaimReturnCreate, session: WriteSessionDep, principal: PrincipalDep, response: Response
) -> ClaimReturnPublic:
    """The PCN (or an admin): open its return for a month, with its payee's ODS code. Its lines are the
    PCN's claims of the month (all but withdrawn ones), drafted as claims are (`POST /v1/claims`). 409
    `claim-return-exists` (with `claim_return_id`) when the month has one."""
    public = claim_returns.create_return(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/v1/claim-returns/{public.id}"
    return public


@router.get(
    "/claim-returns",
    operation_id="list_claim_returns",
    summary="List monthly claim returns",
    response_model=ReturnPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_claim_returns(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    pcn_code: Annotated[str | None, Query(pattern=PCN_CODE_PATTERN, description="Only this PCN's returns.")] = None,
    month: Annotated[str | None, Query(pattern=CLAIM_MONTH_PATTERN, description="Only this month, `YYYY-MM`.")] = None,
    status: Annotated[ClaimReturnStatus | None, Query(description="Only returns in this status.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> ReturnPage | Response:
    """Returns in the order they were opened, each with its lines, within the client's scope (as claims)."""
    items, next_cursor = claim_returns.list_returns(
        session=session, principal=principal, pcn_code=pcn_code, month=month, status=status, cursor=cursor, limit=limit
    )
    return page_or_csv(request, format, ReturnPage(data=items, next_cursor=next_cursor), filename="claim-returns")


@router.get(
    "/claim-returns/{return_id}",
    operation_id="get_claim_return",
    summary="Get a claim return (or its CSV export)",
    response_model=ClaimReturnPublic,
    responses={**CSV_RESPONSE_DOC, **problem_responses(404, 422)},
)
def get_claim_return(
    return_id: ReturnIdPath, found: ReadableReturn, session: ReadSessionDep, format: FormatQuery = None
) -> ClaimReturnPublic | Response:
    """One return with its lines. `?format=csv` is the reconciliation export for the national portal:
    one line per employee (post, staff reference, role, WTE, dates, every input and intermediate of the
    computation, the amount reimbursable and the line's status). Outside the client's scope: 404."""
    public = claim_returns.return_public(session, found)
    if format == "csv":
        return reconciliation_csv(session, public)
    return public


@router.post(
    "/claim-returns/{return_id}/declare",
    operation_id="declare_claim_return",
    summary="Declare a claim return",
    response_model=ClaimReturnPublic,
    responses=STEPS,
)
def declare_claim_return(
    return_id: ReturnIdPath,
    data: ReturnDeclaration,
    found: PcnReturn,
    session: WriteSessionDep,
    principal: PrincipalDep,
) -> ClaimReturnPublic:
    """The PCN (or an admin): record the return's declaration, with who declared it and when. A new
    declaration replaces the last while the return is open."""
    return claim_returns.declare(session=session, principal=principal, found=found, declaration=data.declaration)


@router.post(
    "/claim-returns/{return_id}/submit",
    operation_id="submit_claim_return",
    summary="Submit a claim return",
    response_model=ClaimReturnPublic,
    responses=problem_responses(403, 404, 409, 422, 503),
)
def submit_claim_return(
    return_id: ReturnIdPath,
    leased: SubmitReturnLease,
    found: PcnReturn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
) -> ClaimReturnPublic:
    """The PCN (or an admin): submit every draft line in one step. Each line is checked and held as a
    claim's submission is; if any is refused, none is held and 409 `return-refused` lists every refused
    line with its checks (`budget-exceeded` among them when the pot cannot hold them all). 422
    `return-not-declared` before the declaration, `return-empty` with no draft line. With an
    `Idempotency-Key` a retry replays the first answer."""
    return claim_returns.submit(
        session=session, catalogue=catalogue, principal=principal, found=found, lease=leased.lease
    )


@router.post(
    "/claim-returns/{return_id}/approve",
    operation_id="approve_claim_return",
    summary="Approve a return's lines",
    response_model=ClaimReturnPublic,
    responses=STEPS,
)
def approve_claim_return(
    return_id: ReturnIdPath,
    leased: ApproveReturnLease,
    found: IcbReturn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    data: ApproveBody,
) -> ClaimReturnPublic:
    """The PCN's ICB (or an admin): approve the named lines (`claim_ids`), or every submitted line."""
    return claim_returns.approve(
        session=session, principal=principal, found=found, claim_ids=data.claim_ids, lease=leased.lease
    )


@router.post(
    "/claim-returns/{return_id}/reject",
    operation_id="reject_claim_return",
    summary="Reject a return's lines",
    response_model=ClaimReturnPublic,
    responses=STEPS,
)
def reject_claim_return(
    return_id: ReturnIdPath,
    data: ReturnLinesReject,
    leased: RejectReturnLease,
    found: IcbReturn,
    session: WriteSessionDep,
    principal: PrincipalDep,
) -> ClaimReturnPublic:
    """The PCN's ICB (or an admin): reject the named lines (`claim_ids`), or every submitted line, with
    a reason; their holds are released."""
    return claim_returns.reject(
        session=session,
        principal=principal,
        found=found,
        claim_ids=data.claim_ids,
        reason=data.reason,
        lease=leased.lease,
    )


@router.post(
    "/claim-returns/{return_id}/pay",
    operation_id="pay_claim_return",
    summary="Pay a claim return",
    response_model=ClaimReturnPublic,
    responses=STEPS,
)
def pay_claim_return(
    return_id: ReturnIdPath,
    data: ReturnPay,
    leased: PayReturnLease,
    found: IcbReturn,
    session: WriteSessionDep,
    principal: PrincipalDep,
) -> ClaimReturnPublic:
    """The PCN's ICB (or an admin): one payment reference pays every approved line and closes the
    return. 409 `return-lines-undecided` (with `claim_ids`) while a line awaits a decision."""
    return claim_returns.pay(
        session=session, principal=principal, found=found, payment_reference=data.payment_reference, lease=leased.lease
    )
