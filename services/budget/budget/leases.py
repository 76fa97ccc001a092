"""The ``Idempotency-Key`` leases of the budget service's retry-safe writes, defined once.

The lease dependency of a retry-safe write declares the route's inputs (path, header and body,
validated once, here) and hands them on with the key the request came with (:class:`Leased`): a
coroutine that does no I/O. :class:`budget.deps.AuthorisedRoute` takes the key in the route's worker
thread before any resource of the route is loaded: a retry of a finished request never reaches the
route (its first answer is replayed), a duplicate of a running one is 409 at once. The service
records its response on the lease in the transaction that does the work; a failed request gives the
key back in that thread before its error is answered, so an immediate retry finds it free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from arrs_kit import idempotency
from arrs_kit.db import WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader, KeyLease, KeyRequest
from arrs_kit.principal import Principal, PrincipalDep
from budget.deps import ClaimIdPath, Deferred, FyPath, PcnCodePath, WithdrawBody
from budget.schemas.budgets import AllocationCreate
from budget.schemas.claims import AdjustmentCreate, ClaimPay, ClaimReject, ClaimWithdraw

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Leased(Deferred, Generic[T]):
    """A retry-safe write's inputs and the key it came with (None without an ``Idempotency-Key``),
    taken when :class:`budget.deps.AuthorisedRoute` resolves it."""

    asked: KeyRequest | None
    data: T
    fy: str = ""

    def resolve(self) -> Leased[T]:
        if self.asked is not None:
            self.asked.take()  # a replay, 409 or 422 is raised here, before the route's resources are read
        return self

    def abandon(self) -> None:
        if self.asked is not None:
            self.asked.give_back()

    @property
    def lease(self) -> KeyLease | None:
        """The lease the service records its response on (None without a key)."""
        if self.asked is None:
            return None
        assert self.asked.lease is not None, "the key is taken when the route resolves its dependencies"
        return self.asked.lease


def with_key(
    request: Request,
    session: Session,
    principal: Principal,
    key: str | None,
    data: T,
    *,
    operation: str,
    payload: object,
    fy: str = "",
) -> Leased[T]:
    """``data`` with the key of ``operation`` (scoped to the principal), not taken yet."""
    asked = idempotency.asked_key(
        request, session, principal_id=principal.client_id, key=key, operation=operation, payload=payload
    )
    return Leased(asked, data, fy)


async def _allocation_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: AllocationCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[AllocationCreate]:
    operation = f"add_allocation:{pcn_code.upper()}:{fy}"
    payload = data.model_dump(mode="json")
    return with_key(request, session, principal, idempotency_key, data, operation=operation, payload=payload, fy=fy)


async def _year_close_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[None]:
    operation = f"close_budget_year:{pcn_code.upper()}:{fy}"
    return with_key(request, session, principal, idempotency_key, None, operation=operation, payload=None, fy=fy)


def _claim_step(
    request: Request, session: Session, principal: Principal, key: str | None, step: str, claim_id: int, data: T
) -> Leased[T]:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else None
    return with_key(request, session, principal, key, data, operation=f"{step}_claim:{claim_id}", payload=payload)


async def _submit_lease(
    request: Request,
    claim_id: ClaimIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[None]:
    return _claim_step(request, session, principal, idempotency_key, "submit", claim_id, None)


async def _approve_lease(
    request: Request,
    claim_id: ClaimIdPath,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[None]:
    return _claim_step(request, session, principal, idempotency_key, "approve", claim_id, None)


async def _reject_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: ClaimReject,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[ClaimReject]:
    return _claim_step(request, session, principal, idempotency_key, "reject", claim_id, data)


async def _pay_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: ClaimPay,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[ClaimPay]:
    return _claim_step(request, session, principal, idempotency_key, "pay", claim_id, data)


async def _withdraw_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: WithdrawBody,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[ClaimWithdraw]:
    return _claim_step(request, session, principal, idempotency_key, "withdraw", claim_id, data)


async def _adjust_lease(
    request: Request,
    claim_id: ClaimIdPath,
    data: AdjustmentCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[AdjustmentCreate]:
    return _claim_step(request, session, principal, idempotency_key, "adjust", claim_id, data)


AllocationLease = Annotated[Leased[AllocationCreate], Depends(_allocation_lease)]
YearCloseLease = Annotated[Leased[None], Depends(_year_close_lease)]
SubmitLease = Annotated[Leased[None], Depends(_submit_lease)]
ApproveLease = Annotated[Leased[None], Depends(_approve_lease)]
RejectLease = Annotated[Leased[ClaimReject], Depends(_reject_lease)]
PayLease = Annotated[Leased[ClaimPay], Depends(_pay_lease)]
WithdrawLease = Annotated[Leased[ClaimWithdraw], Depends(_withdraw_lease)]
AdjustLease = Annotated[Leased[AdjustmentCreate], Depends(_adjust_lease)]
