"""What the budget service's routes depend on, defined once: path and query types, ``If-Match``, the
role catalogue client, the resources a route acts on, loaded and authorised (domain §8), and the
``Idempotency-Key`` leases of the writes that take one. A route's signature says what it acts on and
whether a retry of it is safe."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Body, Depends, Header, Path, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from arrs_kit import idempotency
from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.etag import IfMatchHeader
from arrs_kit.idempotency import IdempotencyKeyHeader, KeyLease
from arrs_kit.principal import Principal, PrincipalDep
from arrs_kit.problems import ProblemError
from budget.clients.roles import RoleCatalogue
from budget.domain import register
from budget.domain.calendar import InvalidFinancialYear
from budget.models import Claim, Pcn, Post
from budget.schemas.budgets import AllocationCreate
from budget.schemas.claims import AdjustmentCreate, ClaimPay, ClaimReject, ClaimWithdraw
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

IfMatchRequired = IfMatchHeader
IfMatchOptional = Annotated[
    str | None, Header(description="The ETag you last read; when sent, the change is refused if it is stale.")
]
IfMatchPlan = Annotated[
    str | None,
    Header(description="The plan's ETag you last read: required to replace a plan, absent to create the first one."),
]


async def _catalogue(request: Request) -> RoleCatalogue:
    """A coroutine: it does no I/O, and a plain function dependency would cost a worker-thread hop."""
    catalogue: RoleCatalogue = request.app.state.catalogue
    return catalogue


CatalogueDep = Annotated[RoleCatalogue, Depends(_catalogue)]
"""The role catalogue's client, made once per app (:func:`budget.main.create_app`)."""


T = TypeVar("T")
R = TypeVar("R")


# The resources a route acts on, loaded once and authorised by the rules of :mod:`budget.service.authz`
# (domain §8). A read route takes the read session's row; a write route the writer's (locked where
# the rule says).
#
# Each answers as the request stood before: a malformed request is 422 whatever it names, so these
# read their path parameters as sent (the route's own parameters validate them, once) and hand a
# refusal (404, 403, 422 invalid-financial-year) to :class:`AuthorisedRoute` instead of raising it
# while FastAPI still collects validation errors. They run after an ``Idempotency-Key`` lease: the
# key is taken before the request's own transaction begins (on SQLite, the writer's first read
# takes the database's lock).


@dataclass(frozen=True, slots=True)
class Refused:
    """A resource the request may not act on, or cannot name: raised by :class:`AuthorisedRoute`
    once the request is known to be well formed (``error`` None: it is not, and FastAPI says so)."""

    error: ProblemError | None = None


def _refusals(load: Callable[[], R]) -> R | Refused:
    try:
        return load()
    except ProblemError as error:
        return Refused(error)


# The path parameters as the routes validate them (the same constraints as PcnCodePath and the ids).
_PCN_CODE = TypeAdapter(Annotated[str, StringConstraints(pattern=PCN_CODE_PATTERN)])
_ID = TypeAdapter(Annotated[int, Field(ge=1, le=ID_MAX)])


def _sent_pcn_code(request: Request) -> str | None:
    try:
        return _PCN_CODE.validate_python(request.path_params.get("pcn_code"))
    except ValidationError:
        return None


def _sent_id(request: Request, name: str) -> int | None:
    try:
        return _ID.validate_python(request.path_params.get(name))
    except ValidationError:
        return None


async def _reference_date(request: Request) -> date | Refused:
    """The day a financial year's weighted population is counted; 422 ``invalid-financial-year``
    (checked before the PCN is looked up)."""
    fy = str(request.path_params.get("fy", ""))
    if len(fy) != 7:
        return Refused()
    try:
        return register.reference_date_for(fy)
    except ValueError as exc:
        return Refused(InvalidFinancialYear(str(exc)))


ReferenceDate = Annotated[date, Depends(_reference_date)]


def _readable_pcn(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> Pcn | Refused:
    code = _sent_pcn_code(request)
    return Refused() if code is None else _refusals(lambda: authz.readable_pcn(session, principal, code))


def _managed_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Pcn | Refused:
    code = _sent_pcn_code(request)
    if code is None:
        return Refused()
    return _refusals(lambda: authz.managed_pcn(session, principal, code, for_update=False))


def _locked_managed_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Pcn | Refused:
    code = _sent_pcn_code(request)
    if code is None:
        return Refused()
    return _refusals(lambda: authz.managed_pcn(session, principal, code, for_update=True))


def _own_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Pcn | Refused:
    code = _sent_pcn_code(request)
    return Refused() if code is None else _refusals(lambda: authz.own_pcn(session, principal, code))


def _adjusting_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Pcn | Refused:
    code = _sent_pcn_code(request)
    return Refused() if code is None else _refusals(lambda: authz.adjusting_pcn(session, principal, code))


ReadablePcn = Annotated[Pcn, Depends(_readable_pcn)]
"""A PCN the principal may read (404 otherwise)."""
ManagedPcn = Annotated[Pcn, Depends(_managed_pcn)]
"""A PCN the principal manages (an admin, its ICB): its budget. Not locked; the pots' rows are."""
LockedManagedPcn = Annotated[Pcn, Depends(_locked_managed_pcn)]
"""A PCN the principal manages, locked for the request's transaction: the PCN itself and its populations."""
OwnPcn = Annotated[Pcn, Depends(_own_pcn)]
AdjustingPcn = Annotated[Pcn, Depends(_adjusting_pcn)]
"""A PCN whose paid claims its PCN, its ICB or an admin adjusts (an uplift)."""
"""The principal's own PCN (or any, for an admin): its workforce plans."""


def _readable_post(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> Post | Refused:
    post_id = _sent_id(request, "post_id")
    return Refused() if post_id is None else _refusals(lambda: authz.readable_post(session, principal, post_id))


def _owned_post(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Post | Refused:
    post_id = _sent_id(request, "post_id")
    if post_id is None:
        return Refused()
    forbidden = "Only an admin or the post's PCN may change a post."
    return _refusals(lambda: authz.owned_post(session, principal, post_id, for_update=True, forbidden=forbidden))


ReadablePost = Annotated[Post, Depends(_readable_post)]
OwnedPost = Annotated[Post, Depends(_owned_post)]
"""A post its PCN (or an admin) changes, locked."""


M = TypeVar("M")


def written_by_id(name: str, rule: Callable[[Session, Principal, int], M]) -> Callable[..., M | Refused]:
    """A dependency loading the resource whose id is the path's ``name`` for a write (the rule locks
    it and checks the principal may act on it), its refusal raised by :class:`AuthorisedRoute`."""

    def load(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> M | Refused:
        found = _sent_id(request, name)
        return Refused() if found is None else _refusals(lambda: rule(session, principal, found))

    return load


def read_by_id(name: str, rule: Callable[[Session, Principal, int], M]) -> Callable[..., M | Refused]:
    """As :func:`written_by_id`, on the read session, for a resource the principal reads."""

    def load(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> M | Refused:
        found = _sent_id(request, name)
        return Refused() if found is None else _refusals(lambda: rule(session, principal, found))

    return load


def _claim_by(rule: Callable[[Session, Principal, int], Claim]) -> Callable[..., Claim | Refused]:
    return written_by_id("claim_id", rule)


ReadableClaim = Annotated[Claim, Depends(read_by_id("claim_id", authz.readable_claim))]
PcnClaim = Annotated[Claim, Depends(_claim_by(authz.pcn_claim))]
"""A claim its PCN (or an admin) edits, submits or withdraws, locked."""
IcbClaim = Annotated[Claim, Depends(_claim_by(authz.icb_claim))]
"""A claim its PCN's ICB (or an admin) approves, rejects or pays, locked."""
AdjustableClaim = Annotated[Claim, Depends(_claim_by(authz.adjustable_claim))]
"""A claim its PCN, its ICB or an admin corrects, locked."""


class AuthorisedRoute(APIRoute):
    """A route that raises the refusal of a resource dependency (:class:`Refused`) only once FastAPI
    found the request well formed, so a malformed request is 422 whatever it names, as it always was."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        @functools.wraps(endpoint)
        def checked(**values: Any) -> Any:
            for value in values.values():
                if isinstance(value, Refused):
                    if value.error is None:  # the dependency and the route disagree on what is well formed
                        raise RuntimeError(f"{path}: a request the route validated was refused as malformed")
                    raise value.error
            return endpoint(**values)

        super().__init__(path, checked, **kwargs)


# Idempotency-Key. The lease dependency of a retry-safe write declares the route's inputs (path,
# header and body, validated once, here) and hands them on with the lease; the service records its
# response on the lease in the transaction that does the work. A retry never reaches the route (its
# first answer is replayed); a failed request releases the key before its error is answered
# (scope="function"), so an immediate retry finds it free.


@dataclass(frozen=True, slots=True)
class Leased(Generic[T]):
    """A retry-safe write's inputs and its lease (None without an ``Idempotency-Key``)."""

    lease: KeyLease | None
    data: T
    fy: str = ""


def _lease(
    request: Request, session: Session, principal: Principal, key: str | None, *, operation: str, payload: object
) -> AbstractAsyncContextManager[KeyLease | None]:
    return idempotency.request_lease(
        request, session, principal_id=principal.client_id, key=key, operation=operation, payload=payload
    )


async def _allocation_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: AllocationCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[AllocationCreate]]:
    operation = f"add_allocation:{pcn_code.upper()}:{fy}"
    payload = data.model_dump(mode="json")
    async with _lease(request, session, principal, idempotency_key, operation=operation, payload=payload) as lease:
        yield Leased(lease, data, fy)


async def _year_close_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[None]]:
    operation = f"close_budget_year:{pcn_code.upper()}:{fy}"
    async with _lease(request, session, principal, idempotency_key, operation=operation, payload=None) as lease:
        yield Leased(lease, None, fy)


@asynccontextmanager
async def _claim_step(
    request: Request, session: Session, principal: Principal, key: str | None, step: str, claim_id: int, data: T
) -> AsyncIterator[Leased[T]]:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else None
    operation = f"{step}_claim:{claim_id}"
    async with _lease(request, session, principal, key, operation=operation, payload=payload) as lease:
        yield Leased(lease, data)


async def _submit_lease(
    request: Request,
    claim_id: ClaimIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[None]]:
    async with _claim_step(request, session, principal, idempotency_key, "submit", claim_id, None) as leased:
        yield leased


async def _approve_lease(
    request: Request,
    claim_id: ClaimIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[None]]:
    async with _claim_step(request, session, principal, idempotency_key, "approve", claim_id, None) as leased:
        yield leased


async def _reject_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: ClaimReject,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[ClaimReject]]:
    async with _claim_step(request, session, principal, idempotency_key, "reject", claim_id, data) as leased:
        yield leased


async def _pay_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: ClaimPay,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[ClaimPay]]:
    async with _claim_step(request, session, principal, idempotency_key, "pay", claim_id, data) as leased:
        yield leased


async def _withdraw_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: WithdrawBody,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[ClaimWithdraw]]:
    async with _claim_step(request, session, principal, idempotency_key, "withdraw", claim_id, data) as leased:
        yield leased


async def _adjust_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: AdjustmentCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[Leased[AdjustmentCreate]]:
    async with _claim_step(request, session, principal, idempotency_key, "adjust", claim_id, data) as leased:
        yield leased


AllocationLease = Annotated[Leased[AllocationCreate], Depends(_allocation_lease, scope="function")]
YearCloseLease = Annotated[Leased[None], Depends(_year_close_lease, scope="function")]
SubmitLease = Annotated[Leased[None], Depends(_submit_lease, scope="function")]
ApproveLease = Annotated[Leased[None], Depends(_approve_lease, scope="function")]
RejectLease = Annotated[Leased[ClaimReject], Depends(_reject_lease, scope="function")]
PayLease = Annotated[Leased[ClaimPay], Depends(_pay_lease, scope="function")]
WithdrawLease = Annotated[Leased[ClaimWithdraw], Depends(_withdraw_lease, scope="function")]
AdjustLease = Annotated[Leased[AdjustmentCreate], Depends(_adjust_lease, scope="function")]
