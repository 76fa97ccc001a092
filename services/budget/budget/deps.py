"""What the budget service's routes depend on, defined once: path and query types, ``If-Match``, the
role catalogue client, the resources a route acts on, loaded and authorised (domain §8), and the
``Idempotency-Key`` leases of the writes that take one. A route's signature says what it acts on and
whether a retry of it is safe."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import Body, Depends, Header, Path, Query, Request
from sqlalchemy.orm import Session

from arrs_kit import idempotency
from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader, KeyLease
from arrs_kit.principal import Principal, PrincipalDep
from budget.clients.roles import RoleCatalogue
from budget.domain import register
from budget.domain.calendar import InvalidFinancialYear
from budget.models import Claim, Pcn, Post
from budget.schemas.budgets import AllocationCreate
from budget.schemas.claims import AdjustmentCreate, ClaimCreate, ClaimPay, ClaimReject, ClaimWithdraw
from budget.schemas.common import PCN_CODE_PATTERN, PRACTICE_CODE_PATTERN
from budget.service import authz
from budget.service.common import ID_MAX

PcnCodePath = Annotated[
    str, Path(pattern=PCN_CODE_PATTERN, description="PCN code, `U` and 5 digits (any case).", examples=["U12345"])
]
PracticeCodePath = Annotated[
    str,
    Path(
        pattern=PRACTICE_CODE_PATTERN,
        description="Practice code, a letter and 5 digits (any case).",
        examples=["A81001"],
    ),
]
FyPath = Annotated[str, Path(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])]
PostIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The post's id.", examples=[1])]
# The claim paths take `{claim_id:int}` (digits only), so `/v1/claims/preview` is never read as a claim id:
# `GET` or `PATCH /v1/claims/preview` is 405, not a 422 about the id. A path that is no id at all is 404.
ClaimIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The claim's id.", examples=[1])]

# Optional, yet a named schema (not `ClaimWithdraw | null`) for client generators: no body is `{}`.
WithdrawBody = Annotated[ClaimWithdraw, Body(default_factory=ClaimWithdraw)]

FyQuery = Annotated[
    str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY` (required).", examples=["2024-25"])
]

IfMatchRequired = Annotated[str | None, Header(description="The ETag you last read (required).")]
IfMatchOptional = Annotated[
    str | None, Header(description="The ETag you last read; when sent, the change is refused if it is stale.")
]
IfMatchPlan = Annotated[
    str | None,
    Header(description="The plan's ETag you last read: required to replace a plan, absent to create the first one."),
]


def _catalogue(request: Request) -> RoleCatalogue:
    catalogue: RoleCatalogue = request.app.state.catalogue
    return catalogue


CatalogueDep = Annotated[RoleCatalogue, Depends(_catalogue)]
"""The role catalogue's client, made once per app (:func:`budget.main.create_app`)."""


def _reference_date(fy: FyPath) -> date:
    """The day a financial year's weighted population is counted; 422 ``invalid-financial-year``
    (checked before the PCN is looked up)."""
    try:
        return register.reference_date_for(fy)
    except ValueError as exc:
        raise InvalidFinancialYear(str(exc)) from exc


ReferenceDate = Annotated[date, Depends(_reference_date)]


# The resources a route acts on, loaded once and authorised by the rules of :mod:`budget.service.authz`
# (domain §8). A read route takes the read session's row; a write route the writer's (locked where
# the rule says). Declare them after ``IdempotencyLease`` parameters: the key is taken before the
# request's own transaction begins (on SQLite, the writer's first read takes the database's lock).


def _readable_pcn(pcn_code: PcnCodePath, session: ReadSessionDep, principal: PrincipalDep) -> Pcn:
    return authz.readable_pcn(session, principal, pcn_code)


def _managed_pcn(pcn_code: PcnCodePath, session: WriteSessionDep, principal: PrincipalDep) -> Pcn:
    return authz.managed_pcn(session, principal, pcn_code, for_update=False)


def _locked_managed_pcn(pcn_code: PcnCodePath, session: WriteSessionDep, principal: PrincipalDep) -> Pcn:
    return authz.managed_pcn(session, principal, pcn_code, for_update=True)


def _own_pcn(pcn_code: PcnCodePath, session: WriteSessionDep, principal: PrincipalDep) -> Pcn:
    return authz.own_pcn(session, principal, pcn_code)


ReadablePcn = Annotated[Pcn, Depends(_readable_pcn)]
"""A PCN the principal may read (404 otherwise)."""
ManagedPcn = Annotated[Pcn, Depends(_managed_pcn)]
"""A PCN the principal manages (an admin, its ICB): its budget. Not locked; the pots' rows are."""
LockedManagedPcn = Annotated[Pcn, Depends(_locked_managed_pcn)]
"""A PCN the principal manages, locked for the request's transaction: the PCN itself and its populations."""
OwnPcn = Annotated[Pcn, Depends(_own_pcn)]
"""The principal's own PCN (or any, for an admin): its workforce plans."""


def _readable_post(post_id: PostIdPath, session: ReadSessionDep, principal: PrincipalDep) -> Post:
    return authz.readable_post(session, principal, post_id)


def _owned_post(post_id: PostIdPath, session: WriteSessionDep, principal: PrincipalDep) -> Post:
    return authz.owned_post(
        session, principal, post_id, for_update=True, forbidden="Only an admin or the post's PCN may change a post."
    )


def _post_to_preview(data: ClaimCreate, session: ReadSessionDep, principal: PrincipalDep) -> Post:
    return authz.owned_post(session, principal, data.post_id, for_update=False, forbidden=NOT_CLAIMANT)


def _post_to_claim(data: ClaimCreate, session: WriteSessionDep, principal: PrincipalDep) -> Post:
    return authz.owned_post(session, principal, data.post_id, for_update=False, forbidden=NOT_CLAIMANT)


NOT_CLAIMANT = "Only the post's PCN or an admin makes its claims."
ReadablePost = Annotated[Post, Depends(_readable_post)]
OwnedPost = Annotated[Post, Depends(_owned_post)]
"""A post its PCN (or an admin) changes, locked."""
PostToPreview = Annotated[Post, Depends(_post_to_preview)]
"""The post a claim's body names, one its PCN (or an admin) claims for: a preview reads it."""
PostToClaim = Annotated[Post, Depends(_post_to_claim)]
"""The post a claim's body names, one its PCN (or an admin) claims for: a draft is made for it."""


def _readable_claim(claim_id: ClaimIdPath, session: ReadSessionDep, principal: PrincipalDep) -> Claim:
    return authz.readable_claim(session, principal, claim_id)


def _pcn_claim(claim_id: ClaimIdPath, session: WriteSessionDep, principal: PrincipalDep) -> Claim:
    return authz.pcn_claim(session, principal, claim_id)


def _icb_claim(claim_id: ClaimIdPath, session: WriteSessionDep, principal: PrincipalDep) -> Claim:
    return authz.icb_claim(session, principal, claim_id)


def _adjustable_claim(claim_id: ClaimIdPath, session: WriteSessionDep, principal: PrincipalDep) -> Claim:
    return authz.adjustable_claim(session, principal, claim_id)


ReadableClaim = Annotated[Claim, Depends(_readable_claim)]
PcnClaim = Annotated[Claim, Depends(_pcn_claim)]
"""A claim its PCN (or an admin) edits, submits or withdraws, locked."""
IcbClaim = Annotated[Claim, Depends(_icb_claim)]
"""A claim its PCN's ICB (or an admin) approves, rejects or pays, locked."""
AdjustableClaim = Annotated[Claim, Depends(_adjustable_claim)]
"""A claim its PCN, its ICB or an admin corrects, locked."""


# Idempotency-Key: the route's service records its response on the lease (``lease.record``) in the
# transaction that does the work; a retry never reaches the route (its first answer is replayed).


def _lease(
    request: Request, session: Session, principal: Principal, key: str | None, *, operation: str, payload: object
) -> Iterator[KeyLease | None]:
    yield from idempotency.lease(
        store=request.app.state.idempotency,
        db=request.app.state.db,
        session=session,
        principal_id=principal.client_id,
        operation=operation,
        key=key,
        method=request.method,
        path=request.url.path,
        payload=payload,
    )


def _allocation_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: AllocationCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    operation = f"add_allocation:{pcn_code.upper()}:{fy}"
    yield from _lease(
        request, session, principal, idempotency_key, operation=operation, payload=data.model_dump(mode="json")
    )


def _year_close_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    operation = f"close_budget_year:{pcn_code.upper()}:{fy}"
    yield from _lease(request, session, principal, idempotency_key, operation=operation, payload=None)


def _claim_lease(
    request: Request, session: Session, principal: Principal, key: str | None, step: str, claim_id: int, body: object
) -> Iterator[KeyLease | None]:
    yield from _lease(request, session, principal, key, operation=f"{step}_claim:{claim_id}", payload=body)


def _submit_lease(
    request: Request,
    claim_id: ClaimIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    yield from _claim_lease(request, session, principal, idempotency_key, "submit", claim_id, None)


def _approve_lease(
    request: Request,
    claim_id: ClaimIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    yield from _claim_lease(request, session, principal, idempotency_key, "approve", claim_id, None)


def _reject_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: ClaimReject,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    body = data.model_dump(mode="json")
    yield from _claim_lease(request, session, principal, idempotency_key, "reject", claim_id, body)


def _pay_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: ClaimPay,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    body = data.model_dump(mode="json")
    yield from _claim_lease(request, session, principal, idempotency_key, "pay", claim_id, body)


def _withdraw_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: WithdrawBody,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    body = data.model_dump(mode="json")
    yield from _claim_lease(request, session, principal, idempotency_key, "withdraw", claim_id, body)


def _adjust_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: AdjustmentCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Iterator[KeyLease | None]:
    body = data.model_dump(mode="json")
    yield from _claim_lease(request, session, principal, idempotency_key, "adjust", claim_id, body)


# scope="function": a failed request releases its key before the error is answered, so an
# immediate retry finds it free.
AllocationLease = Annotated[KeyLease | None, Depends(_allocation_lease, scope="function")]
YearCloseLease = Annotated[KeyLease | None, Depends(_year_close_lease, scope="function")]
SubmitLease = Annotated[KeyLease | None, Depends(_submit_lease, scope="function")]
ApproveLease = Annotated[KeyLease | None, Depends(_approve_lease, scope="function")]
RejectLease = Annotated[KeyLease | None, Depends(_reject_lease, scope="function")]
PayLease = Annotated[KeyLease | None, Depends(_pay_lease, scope="function")]
WithdrawLease = Annotated[KeyLease | None, Depends(_withdraw_lease, scope="function")]
AdjustLease = Annotated[KeyLease | None, Depends(_adjust_lease, scope="function")]
