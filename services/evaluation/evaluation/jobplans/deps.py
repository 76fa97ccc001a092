"""Request dependencies of KPI writes: the ``Idempotency-Key`` lease of recording measurements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from arrs_kit.db import WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader, KeyLease, request_lease
from arrs_kit.principal import PrincipalDep
from evaluation.access import KpiInScope, ManagedKpi
from evaluation.jobplans.schemas import MeasurementBatch


@dataclass(frozen=True, slots=True)
class LeasedMeasurements:
    """A KPI the caller manages, the batch for it, and the lease (None without an ``Idempotency-Key``)."""

    found: KpiInScope
    batch: MeasurementBatch
    lease: KeyLease | None


async def _measurements_lease(
    request: Request,
    found: ManagedKpi,
    batch: MeasurementBatch,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AsyncIterator[LeasedMeasurements]:
    # ManagedKpi runs first: a key is only taken on a KPI the caller may write to.
    async with request_lease(
        request,
        session,
        principal_id=principal.client_id,
        key=idempotency_key,
        operation=f"record_measurements:{found.kpi.id}",
        payload=[m.model_dump(mode="json") for m in batch.root],
    ) as lease:
        yield LeasedMeasurements(found, batch, lease)


MeasurementsLease = Annotated[LeasedMeasurements, Depends(_measurements_lease, scope="function")]
