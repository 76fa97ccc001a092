"""Every query of job plans, KPIs and measurements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import one_of
from evaluation.jobplans.models import JobPlanVersion, Kpi, KpiMeasurement, KpiMeasurementHistory, KpiTarget


def current_job_plan(session: Session, post_id: int) -> JobPlanVersion | None:
    stmt = (
        select(JobPlanVersion)
        .where(col(JobPlanVersion.post_id) == post_id)
        .order_by(col(JobPlanVersion.version).desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def job_plan_version(session: Session, post_id: int, version: int) -> JobPlanVersion | None:
    stmt = select(JobPlanVersion).where(col(JobPlanVersion.post_id) == post_id, col(JobPlanVersion.version) == version)
    return session.scalars(stmt).one_or_none()


def job_plan_versions(session: Session, post_id: int, *, before: int | None, limit: int) -> Sequence[JobPlanVersion]:
    stmt = select(JobPlanVersion).where(col(JobPlanVersion.post_id) == post_id)
    if before is not None:
        stmt = stmt.where(col(JobPlanVersion.version) < before)
    return session.scalars(stmt.order_by(col(JobPlanVersion.version).desc()).limit(limit)).all()


def posts_with_job_plans(session: Session, post_ids: Iterable[int]) -> set[int]:
    ids = list(post_ids)
    if not ids:
        return set()
    stmt = select(col(JobPlanVersion.post_id)).where(one_of(session, col(JobPlanVersion.post_id), ids)).distinct()
    return set(session.scalars(stmt).all())


def kpi(session: Session, kpi_id: int, *, for_update: bool = False) -> Kpi | None:
    stmt = select(Kpi).where(col(Kpi.id) == kpi_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def kpis_of_posts(session: Session, post_ids: Iterable[int], *, status: str | None = None) -> Sequence[Kpi]:
    ids = list(post_ids)
    if not ids:
        return []
    stmt = select(Kpi).where(one_of(session, col(Kpi.post_id), ids))
    if status is not None:
        stmt = stmt.where(col(Kpi.status) == status)
    return session.scalars(stmt.order_by(col(Kpi.post_id), col(Kpi.id))).all()


def kpis_page(session: Session, post_id: int, *, status: str | None, after: int | None, limit: int) -> Sequence[Kpi]:
    stmt = select(Kpi).where(col(Kpi.post_id) == post_id)
    if status is not None:
        stmt = stmt.where(col(Kpi.status) == status)
    if after is not None:
        stmt = stmt.where(col(Kpi.id) > after)
    return session.scalars(stmt.order_by(col(Kpi.id)).limit(limit)).all()


def targets(session: Session, kpi_ids: Iterable[int]) -> dict[int, list[KpiTarget]]:
    ids = list(kpi_ids)
    out: dict[int, list[KpiTarget]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = select(KpiTarget).where(col(KpiTarget.kpi_id).in_(ids)).order_by(col(KpiTarget.effective_from))
    for row in session.scalars(stmt):
        out[row.kpi_id].append(row)
    return out


def target(session: Session, kpi_id: int, effective_from: date) -> KpiTarget | None:
    return session.get(KpiTarget, (kpi_id, effective_from))


def target_values(session: Session, kpi_ids: Iterable[int]) -> dict[int, list[tuple[date, Decimal]]]:
    """Each KPI's targets as (first period, target), oldest first: the two columns the analyses read, as
    plain tuples (no ORM objects: an ICB's scorecard list reads thousands)."""
    ids = list(kpi_ids)
    out: dict[int, list[tuple[date, Decimal]]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (
        select(col(KpiTarget.kpi_id), col(KpiTarget.effective_from), col(KpiTarget.target))
        .where(one_of(session, col(KpiTarget.kpi_id), ids))
        .order_by(col(KpiTarget.effective_from))
    )
    for kpi_id, effective_from, target in session.execute(stmt):
        out[kpi_id].append((effective_from, Decimal(target)))
    return out


def measurement_values(session: Session, kpi_ids: Iterable[int]) -> dict[int, dict[date, Decimal]]:
    """Each KPI's values by period: the two columns the analyses read, as plain values (no ORM objects)."""
    ids = list(kpi_ids)
    out: dict[int, dict[date, Decimal]] = {i: {} for i in ids}
    if not ids:
        return out
    stmt = select(col(KpiMeasurement.kpi_id), col(KpiMeasurement.period_start), col(KpiMeasurement.value)).where(
        one_of(session, col(KpiMeasurement.kpi_id), ids)
    )
    for kpi_id, period_start, value in session.execute(stmt):
        out[kpi_id][period_start] = Decimal(value)
    return out


def measurements_at(session: Session, kpi_id: int, periods: Iterable[date]) -> dict[date, KpiMeasurement]:
    wanted = list(periods)
    stmt = select(KpiMeasurement).where(
        col(KpiMeasurement.kpi_id) == kpi_id, col(KpiMeasurement.period_start).in_(wanted)
    )
    return {row.period_start: row for row in session.scalars(stmt)}


def measurements_page(session: Session, kpi_id: int, *, after: date | None, limit: int) -> Sequence[KpiMeasurement]:
    stmt = select(KpiMeasurement).where(col(KpiMeasurement.kpi_id) == kpi_id)
    if after is not None:
        stmt = stmt.where(col(KpiMeasurement.period_start) > after)
    return session.scalars(stmt.order_by(col(KpiMeasurement.period_start)).limit(limit)).all()


def history_page(session: Session, kpi_id: int, *, after: int | None, limit: int) -> Sequence[KpiMeasurementHistory]:
    stmt = select(KpiMeasurementHistory).where(col(KpiMeasurementHistory.kpi_id) == kpi_id)
    if after is not None:
        stmt = stmt.where(col(KpiMeasurementHistory.id) > after)
    return session.scalars(stmt.order_by(col(KpiMeasurementHistory.id)).limit(limit)).all()


def count_measurements(session: Session, kpi_id: int) -> int:
    stmt = select(func.count()).select_from(KpiMeasurement).where(col(KpiMeasurement.kpi_id) == kpi_id)
    return int(session.scalar(stmt) or 0)


def add(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.flush()
