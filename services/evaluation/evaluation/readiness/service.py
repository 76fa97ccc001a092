"""Operating-plan readiness: replaced whole with If-Match, every version kept."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.principal import Principal
from arrs_kit.problems import Conflict, PreconditionFailed
from evaluation.changes import repository as pcn_changes
from evaluation.clock import now_utc
from evaluation.readiness import repository
from evaluation.readiness.models import ReadinessVersion
from evaluation.readiness.schemas import (
    Area,
    Cell,
    CellPublic,
    Lens,
    ReadinessBody,
    ReadinessPublic,
    ReadinessStatus,
    Summary,
    stored,
)


def etag(pcn_code: str, version: int) -> str:
    return make_etag("readiness", pcn_code, version)


def _summary(cells: list[CellPublic]) -> Summary:
    return _counted([c.status for c in cells], sum(c.overdue for c in cells))


def _counted(statuses: list[ReadinessStatus], overdue: int) -> Summary:
    counts = Counter(statuses)
    in_place = counts[ReadinessStatus.IN_PLACE]
    share = (Decimal(100 * in_place) / Decimal(len(statuses))).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return Summary(
        in_place=in_place,
        in_progress=counts[ReadinessStatus.IN_PROGRESS],
        not_started=counts[ReadinessStatus.NOT_STARTED],
        overdue=overdue,
        percent_in_place=str(share),
    )


def summary(row: ReadinessVersion | None, today: date) -> Summary:
    """:func:`public`'s ``summary`` alone, without building the grid (a list of PCNs needs only this)."""
    given = [Cell.model_validate(raw) for raw in (row.cells if row else [])]
    statuses = [cell.status for cell in given]
    statuses += [ReadinessStatus.NOT_STARTED] * (len(Area) * len(Lens) - len(given))
    overdue = sum(
        cell.due_date is not None and cell.due_date < today and cell.status is not ReadinessStatus.IN_PLACE
        for cell in given
    )
    return _counted(statuses, overdue)


def public(pcn_code: str, row: ReadinessVersion | None, today: date) -> ReadinessPublic:
    """Every cell of the grid, the recorded ones as recorded and the rest ``not_started``."""
    given = {(c.area, c.lens): c for c in (Cell.model_validate(raw) for raw in (row.cells if row else []))}
    cells = []
    for area in Area:
        for lens in Lens:
            cell = given.get((area, lens)) or Cell(area=area, lens=lens, status=ReadinessStatus.NOT_STARTED)
            overdue = (
                cell.due_date is not None and cell.due_date < today and cell.status is not ReadinessStatus.IN_PLACE
            )
            cells.append(CellPublic(**cell.model_dump(), overdue=overdue))
    return ReadinessPublic(
        pcn_code=pcn_code,
        version=row.version if row else 0,
        cells=cells,
        summary=_summary(cells),
        by_area={area.value: _summary([c for c in cells if c.area is area]) for area in Area},
        recorded_at=row.created_at if row else None,
        recorded_by=row.created_by if row else None,
    )


def put(
    *, session: Session, pcn_code: str, principal: Principal, body: ReadinessBody, if_match: str | None
) -> tuple[ReadinessVersion, bool]:
    """Record a new version of the PCN's readiness (the first needs no If-Match; later ones do)."""
    current = repository.current(session, pcn_code)
    if current is None and if_match is not None:
        raise PreconditionFailed("Nothing is recorded for this PCN yet: send no If-Match to record the first version.")
    if current is not None:
        require_if_match(if_match, etag(pcn_code, current.version))
    row = ReadinessVersion(
        pcn_code=pcn_code,
        version=(current.version if current else 0) + 1,
        cells=stored(body.cells),
        created_at=now_utc(),
        created_by=principal.actor,
    )
    try:
        repository.add(session, row)
        pcn_changes.count(session, pcn_code)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("The readiness was changed at the same time; read it again and retry.") from exc
    return row, current is None
