"""Request dependencies of the catalogue's writes: the ``Idempotency-Key`` lease of adding a rate period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from arrs_kit.db import WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader, KeyLease, request_lease
from roles.access import AdminDep
from roles.rules import normalise_code
from roles.schemas import RatePeriodCreate

RoleCodePath = Annotated[
    str,
    Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,63}$", description="Role code, e.g. `clinical_pharmacist` (any case)."),
]


@dataclass(frozen=True, slots=True)
class LeasedRatePeriod:
    """A new rate period, validated, with its lease (None without an ``Idempotency-Key``)."""

    lease: KeyLease | None
    data: RatePeriodCreate


async def _rate_period_lease(
    request: Request,
    role_code: RoleCodePath,
    data: RatePeriodCreate,
    session: WriteSessionDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[LeasedRatePeriod]:
    # An admin only (AdminDep runs first): nobody else can take a key on this operation.
    async with request_lease(
        request,
        session,
        principal_id=principal.client_id,
        key=idempotency_key,
        operation=f"add_rate_period:{normalise_code(role_code)}",
        payload=data.model_dump(mode="json"),
    ) as lease:
        yield LeasedRatePeriod(lease, data)


RatePeriodLease = Annotated[LeasedRatePeriod, Depends(_rate_period_lease, scope="function")]
