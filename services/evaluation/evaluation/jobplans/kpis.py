"""KPIs and their measurements: targets that take effect from a period, retirement, and batches of
measurements where a resubmission replaces the value and the history keeps every one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.idempotency import KeyLease
from arrs_kit.principal import Principal
from evaluation.analyses.attainment import target_for
from evaluation.changes import repository as pcn_changes
from evaluation.clients.budget import Post
from evaluation.clock import now_utc, today_in_england
from evaluation.errors import InvalidMeasurements, InvalidTargetPeriod, KpiNotFound, KpiRetired
from evaluation.jobplans import repository
from evaluation.jobplans.models import Kpi, KpiMeasurement, KpiMeasurementHistory, KpiTarget
from evaluation.jobplans.schemas import (
    KpiCreate,
    KpiPublic,
    KpiRetire,
    KpiUpdate,
    MeasurementIn,
    MeasurementResult,
    TargetPublic,
)
from evaluation.periods import Frequency, first_period, is_period_start, period_of

ACTIVE, RETIRED = "active", "retired"


def etag(kpi: Kpi | KpiPublic) -> str:
    return make_etag("kpi", str(kpi.id), kpi.version)


def public(kpi: Kpi, targets: list[KpiTarget], today: date) -> KpiPublic:
    assert kpi.id is not None
    frequency = Frequency(kpi.frequency)
    in_force = target_for(period_of(today, frequency), [(t.effective_from, Decimal(t.target)) for t in targets])
    return KpiPublic(
        id=kpi.id,
        post_id=kpi.post_id,
        pcn_code=kpi.pcn_code,
        name=kpi.name,
        unit=kpi.unit,
        direction=kpi.direction,
        frequency=frequency,
        target=str(in_force),
        targets=[TargetPublic.model_validate(t, from_attributes=True) for t in targets],
        baseline=kpi.baseline,
        measure=kpi.measure,
        status=kpi.status,
        retired_on=kpi.retired_on,
        retired_reason=kpi.retired_reason,
        version=kpi.version,
        created_at=kpi.created_at,
        created_by=kpi.created_by,
        updated_at=kpi.updated_at,
        updated_by=kpi.updated_by,
    )


def read(session: Session, kpi: Kpi) -> KpiPublic:
    assert kpi.id is not None
    return public(kpi, repository.targets(session, [kpi.id])[kpi.id], today_in_england())


def create(*, session: Session, post: Post, principal: Principal, body: KpiCreate) -> KpiPublic:
    """A new KPI of the post; its target applies to every period until a change of target."""
    now, today = now_utc(), today_in_england()
    kpi = Kpi(
        post_id=post.id,
        pcn_code=post.pcn_code,
        name=body.name,
        unit=body.unit,
        direction=body.direction.value,
        frequency=body.frequency.value,
        baseline=body.baseline,
        measure=body.measure,
        status=ACTIVE,
        version=1,
        created_at=now,
        created_by=principal.actor,
        updated_at=now,
        updated_by=principal.actor,
    )
    repository.add(session, kpi)
    assert kpi.id is not None
    first = KpiTarget(
        kpi_id=kpi.id,
        effective_from=first_period(body.frequency),
        target=body.target,
        set_at=now,
        set_by=principal.actor,
    )
    repository.add(session, first)
    pcn_changes.count(session, post.pcn_code)
    session.commit()
    return public(kpi, [first], today)


def _locked(session: Session, kpi_id: int | None) -> Kpi:
    assert kpi_id is not None
    kpi = repository.kpi(session, kpi_id, for_update=True)
    if kpi is None:  # pragma: no cover - KPIs are never deleted
        raise KpiNotFound(f"No KPI {kpi_id}.")
    return kpi


def update(*, session: Session, kpi_id: int | None, principal: Principal, body: KpiUpdate, if_match: str | None) -> Kpi:
    kpi = _locked(session, kpi_id)
    require_if_match(if_match, etag(kpi))
    if kpi.status == RETIRED:
        raise KpiRetired(f"KPI {kpi.id} is retired; add a new KPI instead.")
    changes = body.model_dump(exclude_unset=True)
    frequency = Frequency(kpi.frequency)
    now = now_utc()
    if "target_effective_from" in changes and "target" not in changes:
        raise InvalidTargetPeriod("target_effective_from goes with a new target.")
    if body.target is not None:
        effective = body.target_effective_from or period_of(today_in_england(), frequency)
        if not is_period_start(effective, frequency):
            raise InvalidTargetPeriod(
                f"A {frequency.value} KPI's target takes effect from "
                f"{'a Monday' if frequency is Frequency.WEEKLY else 'the 1st of a month'}; {effective} is not."
            )
        assert kpi.id is not None
        existing = repository.target(session, kpi.id, effective)
        if existing is None:
            repository.add(
                session,
                KpiTarget(
                    kpi_id=kpi.id, effective_from=effective, target=body.target, set_at=now, set_by=principal.actor
                ),
            )
        else:
            existing.target, existing.set_at, existing.set_by = str(body.target), now, principal.actor
    for field in ("name", "unit", "baseline", "measure"):
        if field in changes and (changes[field] is not None or field in ("baseline", "measure")):
            setattr(kpi, field, changes[field])
    kpi.version += 1
    kpi.updated_at, kpi.updated_by = now, principal.actor
    pcn_changes.count(session, kpi.pcn_code)
    session.commit()
    return kpi


def retire(*, session: Session, kpi_id: int | None, principal: Principal, body: KpiRetire) -> Kpi:
    kpi = _locked(session, kpi_id)
    if kpi.status == RETIRED:
        raise KpiRetired(f"KPI {kpi.id} was retired on {kpi.retired_on}.")
    kpi.status, kpi.retired_on, kpi.retired_reason = RETIRED, today_in_england(), body.reason
    kpi.version += 1
    kpi.updated_at, kpi.updated_by = now_utc(), principal.actor
    pcn_changes.count(session, kpi.pcn_code)
    session.commit()
    return kpi


def _check(batch: list[MeasurementIn], frequency: Frequency, today: date) -> list[dict[str, object]]:
    """Every problem of the batch, by item (nothing is recorded if there is any)."""
    errors: list[dict[str, object]] = []
    seen: set[date] = set()
    start = "a Monday" if frequency is Frequency.WEEKLY else "the 1st of a month"
    for index, item in enumerate(batch):
        if not is_period_start(item.period_start, frequency):
            errors.append(
                {"loc": ["body", index, "period_start"], "msg": f"a {frequency.value} period starts on {start}"}
            )
        elif item.period_start > today:
            errors.append({"loc": ["body", index, "period_start"], "msg": "a period that has not started yet"})
        elif item.period_start in seen:
            errors.append({"loc": ["body", index, "period_start"], "msg": "the same period twice in one batch"})
        seen.add(item.period_start)
    return errors


def record(
    *,
    session: Session,
    kpi_id: int | None,
    principal: Principal,
    batch: list[MeasurementIn],
    request_id: str | None,
    lease: KeyLease | None,
) -> MeasurementResult:
    """Record a batch of values: all of them or, if any is invalid, none (422 listing each problem)."""
    kpi = _locked(session, kpi_id)
    assert kpi.id is not None
    if kpi.status == RETIRED:
        raise KpiRetired(f"KPI {kpi.id} was retired on {kpi.retired_on}; it takes no more measurements.")
    errors = _check(batch, Frequency(kpi.frequency), today_in_england())
    if errors:
        raise InvalidMeasurements(
            f"{len(errors)} of {len(batch)} measurements are not valid.", extra={"errors": errors}
        )
    existing = repository.measurements_at(session, kpi.id, [m.period_start for m in batch])
    now = now_utc()
    replaced = 0
    for item in batch:
        current = existing.get(item.period_start)
        previous = None if current is None else current.value
        if current is None:
            repository.add(
                session,
                KpiMeasurement(
                    kpi_id=kpi.id,
                    period_start=item.period_start,
                    value=item.value,
                    recorded_at=now,
                    recorded_by=principal.actor,
                ),
            )
        else:
            replaced += 1
            current.value, current.recorded_at, current.recorded_by = item.value, now, principal.actor
        repository.add(
            session,
            KpiMeasurementHistory(
                kpi_id=kpi.id,
                period_start=item.period_start,
                value=item.value,
                replaced=previous,
                recorded_at=now,
                recorded_by=principal.actor,
                request_id=request_id,
            ),
        )
    result = MeasurementResult(received=len(batch), inserted=len(batch) - replaced, replaced=replaced)
    if lease is not None:
        lease.record(session, status=200, body=result.model_dump(mode="json"))
    pcn_changes.count(session, kpi.pcn_code)
    session.commit()
    return result
