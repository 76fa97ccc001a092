"""Request dependencies of the catalogue's writes: the ``Idempotency-Key`` leases of adding a rate period
and of loading a rate table, and the rate table's CSV body."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from arrs_kit.db import WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader, KeyLease, request_lease
from roles import rate_table
from roles.access import AdminDep
from roles.errors import PayloadTooLarge, UnsupportedMediaType
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


@dataclass(frozen=True, slots=True)
class LeasedRateImport:
    """A rate table's CSV body, read whole, with its lease (None without an ``Idempotency-Key``)."""

    lease: KeyLease | None
    body: bytes


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"A rate table is at most {rate_table.MAX_BYTES:,} bytes; send it in parts.")


async def read_csv_body(request: Request) -> bytes:
    """The body, if it is ``text/csv`` (else 415) and at most :data:`rate_table.MAX_BYTES` (else 413)."""
    if not rate_table.is_csv(request.headers.get("content-type")):
        accepted = {"Accept-Post": f"{rate_table.MEDIA_TYPE}; charset=utf-8"}
        raise UnsupportedMediaType("Send the rate table as text/csv in UTF-8.", headers=accepted)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > rate_table.MAX_BYTES:
        raise _too_large()
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > rate_table.MAX_BYTES:
            raise _too_large()
        parts.append(chunk)
    return b"".join(parts)


async def _rate_import_lease(
    request: Request,
    session: WriteSessionDep,
    principal: AdminDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[LeasedRateImport]:
    # AdminDep runs first: anyone else is refused 403 before the body is looked at.
    body = await read_csv_body(request)
    async with request_lease(
        request,
        session,
        principal_id=principal.client_id,
        key=idempotency_key,
        operation="import_rate_periods",
        payload={"sha256": hashlib.sha256(body).hexdigest()},
    ) as lease:
        yield LeasedRateImport(lease, body)


RateImportLease = Annotated[LeasedRateImport, Depends(_rate_import_lease, scope="function")]
