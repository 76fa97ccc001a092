"""Loading the official ARRS annex table of maximum reimbursement rates in one call (domain §4):
``POST /v1/rates/imports`` with a CSV body.

The whole file is checked before anything is written, and what is written is written in one
transaction. A file with any bad row is refused whole (422 ``rate-import-invalid``, every problem
listed by row, line and column), and so is a file that gives another amount for a *published*
period (409 ``rate-import-conflict``, every such row listed): a published figure is corrected on
purpose, with ``POST /v1/roles/{code}/rates`` and ``supersedes_id``, never by a bulk load. Each row
is keyed by (role, geography, AfC band, effective_from) against the current periods, with the rules
of the reference load (:mod:`roles.seed.reference_rates`):

- no current period with the key: a new period (``created``);
- a current period with the same amount: nothing (``unchanged``), whatever its provenance;
- a current *estimated* period with another amount: a new period superseding it (``superseded``);
- a current *published* period with another amount: a conflict.

Loading the same file again therefore changes nothing. The file is read by :mod:`roles.rate_table`;
:func:`check` and :func:`plan` are pure; :func:`import_rates` locks, reads (through
:mod:`roles.repository`) and writes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from arrs_kit.idempotency import KeyLease
from arrs_kit.principal import Principal
from roles import repository as repo
from roles import rules
from roles.errors import RateImportConflict, RateImportInvalid
from roles.models import RatePeriod
from roles.rate_table import Draft, ImportRow, Key, RowError, parse
from roles.schemas import RateImportOutcome, RateImportPeriod, RateImportResult
from roles.service import BY_MAX

MAX_LISTED = 1_000
"""Most problems listed in a 422 (``error_count`` gives how many there are)."""


def check(
    drafts: Iterable[Draft], roles: Collection[str], current: Mapping[str, Sequence[RatePeriod]]
) -> list[RowError]:
    """What the catalogue refuses: an unknown role, a geography the role is not paid in, a band where
    the role's periods have none or none where they have one (a role without periods: as its first
    row in the file)."""
    errors: list[RowError] = []
    banded: dict[str, bool] = {code: any(p.afc_band is not None for p in ps) for code, ps in current.items() if ps}
    for draft in drafts:
        code = draft.values.get("role_code")
        if code is None:
            continue
        if code not in roles:
            errors.append(RowError(draft.row, draft.line, "role_code", "unknown-role", f"No role {code!r}."))
            continue
        geography = draft.values.get("geography")
        if geography is not None and geography not in rules.geographies_of(code):
            detail = f"{code} is paid in {', '.join(rules.geographies_of(code))}, not {geography}."
            errors.append(RowError(draft.row, draft.line, "geography", "invalid-geography", detail))
        if "afc_band" not in draft.values:
            continue
        band = draft.values["afc_band"]
        role_banded = banded.setdefault(code, band is not None)
        if role_banded and band is None:
            detail = f"{code} is paid by AfC band: give the row's afc_band."
            errors.append(RowError(draft.row, draft.line, "afc_band", "rate-band-mismatch", detail))
        elif not role_banded and band is not None:
            detail = f"{code} is not paid by AfC band: leave afc_band empty."
            errors.append(RowError(draft.row, draft.line, "afc_band", "rate-band-mismatch", detail))
    return errors


@dataclass(frozen=True, slots=True)
class Step:
    """What one row does. ``period_id``: for ``unchanged``, the period already holding the amount
    (None when an earlier row of the file, ``same_as``, makes it); for ``superseded``, the estimate
    it replaces."""

    row: ImportRow
    outcome: RateImportOutcome
    period_id: int | None = None
    same_as: int | None = None


def current_by_key(current: Mapping[str, Sequence[RatePeriod]]) -> dict[Key, RatePeriod]:
    return {
        (p.role_code, p.geography, p.afc_band, p.effective_from): p for periods in current.values() for p in periods
    }


def plan(rows: Sequence[ImportRow], current: Mapping[Key, RatePeriod]) -> tuple[list[Step], list[dict[str, Any]]]:
    """Each row's step, in file order, and the rows that would change a published period."""
    steps: list[Step] = []
    conflicts: list[dict[str, Any]] = []
    first: dict[Key, int] = {}
    for row in rows:
        held = current.get(row.key)
        if held is not None and held.annual_max_pence != row.annual_max_pence and held.provenance == "published":
            conflicts.append(
                {
                    "row": row.row,
                    "line": row.line,
                    "role_code": row.role_code,
                    "geography": row.geography,
                    "afc_band": row.afc_band,
                    "effective_from": row.effective_from.isoformat(),
                    "existing_rate_period_id": held.id,
                    "existing_annual_max_pence": held.annual_max_pence,
                    "file_annual_max_pence": row.annual_max_pence,
                }
            )
            continue
        if row.key in first:
            steps.append(Step(row, "unchanged", same_as=first[row.key]))
            continue
        first[row.key] = len(steps)
        if held is None:
            steps.append(Step(row, "created"))
        elif held.annual_max_pence == row.annual_max_pence:
            steps.append(Step(row, "unchanged", period_id=held.id))
        else:
            steps.append(Step(row, "superseded", period_id=held.id))
    return steps, conflicts


def import_rates(*, session: Session, principal: Principal, body: bytes, lease: KeyLease | None) -> RateImportResult:
    """Check the whole file, then write its periods in one transaction (see the module's rules).

    Every role the file names is locked first, in code order (two imports, or an import and
    ``add_rate_period``, wait for each other rather than deadlock), before its periods are read."""
    parsed = parse(body)
    codes = sorted({draft.values["role_code"] for draft in parsed.drafts if "role_code" in draft.values})
    roles = [code for code in codes if repo.get_role(session, code, for_update=True) is not None]
    current = {code: rules.current_periods(periods) for code, periods in repo.periods_of(session, roles).items()}
    errors = sorted([*parsed.errors, *check(parsed.drafts, set(roles), current)], key=lambda e: e.position)
    if errors:
        listed = f"; the first {MAX_LISTED} are listed" if len(errors) > MAX_LISTED else ""
        raise RateImportInvalid(
            f"{len(errors)} problem(s) in the rate table{listed}; nothing was loaded.",
            extra={"error_count": len(errors), "errors": [e.public() for e in errors[:MAX_LISTED]]},
        )
    steps, conflicts = plan(parsed.rows(), current_by_key(current))
    if conflicts:
        raise RateImportConflict(
            f"{len(conflicts)} row(s) give another amount for a published period; nothing was loaded. "
            "Correct a published period with POST /v1/roles/{role_code}/rates and supersedes_id.",
            extra={"conflicts": conflicts},
        )
    result = _result(steps, _write(session, principal, steps))
    if lease is not None:
        lease.record(session, status=200, body=result.model_dump(mode="json"))
    session.commit()
    return result


def _write(session: Session, principal: Principal, steps: Sequence[Step]) -> dict[int, RatePeriod]:
    """Add the new periods (a superseding one names the estimate it replaces); by step index."""
    now, actor = datetime.now(UTC), principal.actor[:BY_MAX]
    added: dict[int, RatePeriod] = {}
    for index, step in enumerate(steps):
        if step.outcome == "unchanged":
            continue
        row = step.row
        added[index] = RatePeriod(
            role_code=row.role_code,
            geography=row.geography,
            afc_band=row.afc_band,
            effective_from=row.effective_from,
            annual_max_pence=row.annual_max_pence,
            provenance=row.provenance,
            source=row.source,
            note=f"Loaded from a rate table (row {row.row}).",
            supersedes_id=step.period_id if step.outcome == "superseded" else None,
            created_at=now,
            created_by=actor,
        )
        session.add(added[index])
    session.flush()
    return added


def _result(steps: Sequence[Step], added: Mapping[int, RatePeriod]) -> RateImportResult:
    ids: list[int] = []
    periods: list[RateImportPeriod] = []
    for index, step in enumerate(steps):
        new = added.get(index)
        if new is not None:
            period_id = new.id
        elif step.same_as is not None:
            period_id = ids[step.same_as]  # an earlier row of the file holds the same key and amount
        else:
            period_id = step.period_id
        assert period_id is not None
        ids.append(period_id)
        supersedes = step.period_id if step.outcome == "superseded" else None
        periods.append(
            RateImportPeriod(row=step.row.row, outcome=step.outcome, rate_period_id=period_id, supersedes_id=supersedes)
        )
    return RateImportResult(
        rows=len(periods),
        created=sum(p.outcome == "created" for p in periods),
        superseded=sum(p.outcome == "superseded" for p in periods),
        unchanged=sum(p.outcome == "unchanged" for p in periods),
        periods=periods,
    )
