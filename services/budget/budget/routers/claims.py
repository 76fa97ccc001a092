"""HTTP endpoints of claims (``/v1/claims``): preview, drafts, the lifecycle and adjustments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import CSV_RESPONSE_DOC, DEFAULT_LIMIT, CursorQuery, FormatQuery, LimitQuery, page_or_csv
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import (
    AdjustableClaim,
    AuthorisedRoute,
    CatalogueDep,
    ClaimIdPath,
    IcbClaim,
    IfMatchRequired,
    PcnClaim,
    ReadableClaim,
)
from budget.leases import AdjustLease, ApproveLease, PayLease, RejectLease, SubmitLease, WithdrawLease
from budget.schemas.claims import (
    CLAIM_MONTH_PATTERN,
    ClaimCreate,
    ClaimPage,
    ClaimPreview,
    ClaimPublic,
    ClaimUpdate,
    StatusField,
)
from budget.schemas.common import PCN_CODE_PATTERN
from budget.service.claims import adjustments, drafts, lifecycle

router = APIRouter(prefix="/v1", tags=["claims"], route_class=AuthorisedRoute)

CHECKS = (
    "\n\nChecks (the problem `type` ends with the code; `checks` in the body lists every check that failed): "
    "`role-not-claimable`, `rate-not-published`, `post-not-active`, `post-in-baseline`, `claim-month-not-ended`, "
    "`supplier-fee-not-allowed` (422); `duplicate-claim`, `role-cap-exceeded`, `budget-exceeded` (409). "
    "503 `roles-unavailable` when the role catalogue cannot be read: nothing is computed with a guessed rate. "
    "While too many calls already wait for the roles service, or after it failed repeatedly, the 503 comes at "
    "once with `Retry-After` and a `reason` (`too-many-in-flight`, `circuit-open`)."
)
IDEMPOTENT = (
    "\n\nWith an `Idempotency-Key`, a retry replays the first answer (`Idempotent-Replayed: true`) instead of "
    "doing it twice; the same key with another body is 422 `idempotency-key-reused`, and while the first "
    "request still runs, 409 `idempotency-key-in-progress`."
)
DECISIONS = problem_responses(403, 404, 409, 422)
WITH_CATALOGUE = problem_responses(403, 404, 409, 422, 503)


@router.post(
    "/claims/preview",
    operation_id="preview_claim",
    summary="Preview a claim's computation",
    response_model=ClaimPreview,
    responses=WITH_CATALOGUE,
    description="The post's PCN or an admin: compute a claim with every intermediate and run every check, "
    "`budget-exceeded` included; nothing is stored." + CHECKS,
)
def preview_claim(
    data: ClaimCreate, session: ReadSessionDep, principal: PrincipalDep, catalogue: CatalogueDep
) -> ClaimPreview:
    return drafts.preview(session=session, catalogue=catalogue, principal=principal, data=data)


@router.post(
    "/claims",
    operation_id="create_claim",
    summary="Draft a claim",
    status_code=201,
    response_model=ClaimPublic,
    responses=merge_responses(WITH_CATALOGUE, response_headers("ETag", on=(201,))),
    description="The post's PCN or an admin: create a draft claim for one post and one month, answered with "
    "its computation and ETag. Every check runs but `budget-exceeded`, which is checked on submission; a "
    "failing check refuses the draft." + CHECKS,
)
def create_claim(
    data: ClaimCreate, session: WriteSessionDep, principal: PrincipalDep, catalogue: CatalogueDep, response: Response
) -> ClaimPublic:
    public, etag = drafts.create_draft(session=session, catalogue=catalogue, principal=principal, data=data)
    response.headers["ETag"] = etag
    response.headers["Location"] = f"/v1/claims/{public.id}"
    return public


@router.get(
    "/claims",
    operation_id="list_claims",
    summary="List claims",
    response_model=ClaimPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_claims(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    pcn_code: Annotated[str | None, Query(pattern=PCN_CODE_PATTERN, description="Only this PCN's claims.")] = None,
    month: Annotated[str | None, Query(pattern=CLAIM_MONTH_PATTERN, description="Only this month, `YYYY-MM`.")] = None,
    status: Annotated[StatusField | None, Query(description="Only claims in this status.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> ClaimPage | Response:
    """Claims and adjustments in the order they were made, each with its computation and history,
    within the client's scope (admins and national dashboards all; an ICB's clients its PCNs'; a PCN
    its own). Practice systems may not list."""
    items, next_cursor = drafts.list_claims(
        session=session, principal=principal, pcn_code=pcn_code, month=month, status=status, cursor=cursor, limit=limit
    )
    return page_or_csv(request, format, ClaimPage(data=items, next_cursor=next_cursor), filename="claims")


@router.get(
    "/claims/{claim_id:int}",
    operation_id="get_claim",
    summary="Get a claim",
    response_model=ClaimPublic,
    responses=merge_responses(problem_responses(404, 422), response_headers("ETag")),
)
def get_claim(claim_id: ClaimIdPath, claim: ReadableClaim, session: ReadSessionDep, response: Response) -> ClaimPublic:
    """One claim with its computation, its history and its ETag (a draft is edited with it).
    Outside the client's scope: 404 `claim-not-found`."""
    public, etag = drafts.get_claim(session=session, claim=claim)
    response.headers["ETag"] = etag
    return public


@router.patch(
    "/claims/{claim_id:int}",
    operation_id="update_claim",
    summary="Edit a draft claim",
    response_model=ClaimPublic,
    responses=merge_responses(problem_responses(403, 404, 409, 412, 422, 428, 503), response_headers("ETag")),
    description="The claim's PCN or an admin: change a draft's amounts; the claim is computed and checked "
    "again. Needs `If-Match` with the claim's ETag (missing: 428, stale: 412); only a draft can be edited "
    "(409 `invalid-claim-transition`)." + CHECKS,
)
def update_claim(
    claim_id: ClaimIdPath,
    data: ClaimUpdate,
    claim: PcnClaim,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    response: Response,
    if_match: IfMatchRequired = None,
) -> ClaimPublic:
    public, etag = drafts.update_draft(
        session=session, catalogue=catalogue, principal=principal, claim=claim, data=data, if_match=if_match
    )
    response.headers["ETag"] = etag
    return public


def _answer(public: ClaimPublic, *, status: int = 200) -> JSONResponse:
    """The claim as built (already a validated ``ClaimPublic``: it is not validated a second time on
    the way out); a retry with the same Idempotency-Key never gets here (its first answer is replayed)."""
    headers = {"Location": f"/v1/claims/{public.id}"} if status == 201 else None
    return JSONResponse(public.model_dump(mode="json"), status_code=status, headers=headers)


@router.post(
    "/claims/{claim_id:int}/submit",
    operation_id="submit_claim",
    summary="Submit a claim",
    response_model=ClaimPublic,
    responses=WITH_CATALOGUE,
    description="The claim's PCN or an admin: submit a draft. The checks run again on today's terms, then "
    "the reimbursable amount moves from the pot's `available` to `held` in one atomic step; 409 "
    "`budget-exceeded` when it does not fit (nothing is written)." + IDEMPOTENT + CHECKS,
)
def submit_claim(
    leased: SubmitLease,
    claim: PcnClaim,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
) -> JSONResponse:
    return _answer(
        lifecycle.submit(session=session, catalogue=catalogue, principal=principal, claim=claim, lease=leased.lease)
    )


@router.post(
    "/claims/{claim_id:int}/approve",
    operation_id="approve_claim",
    summary="Approve a claim",
    response_model=ClaimPublic,
    responses=DECISIONS,
    description="The PCN's ICB or an admin: approve a submitted claim (held → approved)." + IDEMPOTENT,
)
def approve_claim(
    leased: ApproveLease, claim: IcbClaim, session: WriteSessionDep, principal: PrincipalDep
) -> JSONResponse:
    return _answer(lifecycle.approve(session=session, principal=principal, claim=claim, lease=leased.lease))


@router.post(
    "/claims/{claim_id:int}/reject",
    operation_id="reject_claim",
    summary="Reject a claim",
    response_model=ClaimPublic,
    responses=DECISIONS,
    description="The PCN's ICB or an admin: reject a submitted claim with a reason; its hold goes back to "
    "`available`." + IDEMPOTENT,
)
def reject_claim(
    leased: RejectLease,
    claim: IcbClaim,
    session: WriteSessionDep,
    principal: PrincipalDep,
) -> JSONResponse:
    return _answer(
        lifecycle.reject(
            session=session, principal=principal, claim=claim, reason=leased.data.reason, lease=leased.lease
        )
    )


@router.post(
    "/claims/{claim_id:int}/pay",
    operation_id="pay_claim",
    summary="Record a claim's payment",
    response_model=ClaimPublic,
    responses=DECISIONS,
    description="The PCN's ICB or an admin: record the payment of an approved claim with its reference "
    "(approved → paid); for an adjustment that recovers money, the recovery (paid → available)." + IDEMPOTENT,
)
def pay_claim(
    leased: PayLease,
    claim: IcbClaim,
    session: WriteSessionDep,
    principal: PrincipalDep,
) -> JSONResponse:
    public = lifecycle.pay(
        session=session,
        principal=principal,
        claim=claim,
        payment_reference=leased.data.payment_reference,
        lease=leased.lease,
    )
    return _answer(public)


@router.post(
    "/claims/{claim_id:int}/withdraw",
    operation_id="withdraw_claim",
    summary="Withdraw a claim",
    response_model=ClaimPublic,
    responses=DECISIONS,
    description="The claim's PCN or an admin: withdraw a draft or a submitted claim, optionally with a "
    "reason; a submitted claim's hold goes back to `available`." + IDEMPOTENT,
)
def withdraw_claim(
    leased: WithdrawLease,
    claim: PcnClaim,
    session: WriteSessionDep,
    principal: PrincipalDep,
) -> JSONResponse:
    return _answer(
        lifecycle.withdraw(
            session=session, principal=principal, claim=claim, reason=leased.data.reason, lease=leased.lease
        )
    )


@router.post(
    "/claims/{claim_id:int}/adjustments",
    operation_id="create_adjustment",
    summary="Adjust a paid claim",
    status_code=201,
    response_model=ClaimPublic,
    responses=WITH_CATALOGUE,
    description="The claim's PCN, its ICB or an admin: correct a paid claim. The claim is computed again with "
    "the corrected amounts on the rate it was paid on; the difference from what has been claimed so far "
    "becomes an adjustment claim (`kind: adjustment`, `adjusts_claim_id`, signed `amount_pence`), submitted "
    "at once for the ICB to approve and pay like any claim. A positive adjustment is held from the pot (409 "
    "`budget-exceeded` when it does not fit); a negative one is recovered when it is paid. 422 "
    "`adjustment-not-needed` when nothing changes; 409 `adjustment-pending` while another adjustment of the "
    "claim awaits a decision; 409 `invalid-claim-transition` unless the claim is paid." + IDEMPOTENT,
)
def create_adjustment(
    leased: AdjustLease,
    original: AdjustableClaim,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
) -> JSONResponse:
    public = adjustments.create_adjustment(
        session=session,
        catalogue=catalogue,
        principal=principal,
        original=original,
        data=leased.data,
        lease=leased.lease,
    )
    return _answer(public, status=201)
