"""Bring the catalogue's rate periods up to ``arrs-rates-2023-2026.json`` (domain §4), losslessly.

Rate periods are append-only, so every change here is a new period, and one that replaces another
names it in ``supersedes_id``; the replaced period stays readable as history. Three steps, each
idempotent (a catalogue already brought up to date gets nothing new):

1. **Estimates that start too early.** The first seed started an ``estimated_*`` figure on the first
   day of its FY. An estimate starts when the figure it is derived from applied (a band 5 estimate
   of the 1 October 2024 uplift starts on 1 October 2024), so such a period is superseded by the same
   figure from that day. The day is that of the earliest published national period of any role with
   the same amount, within or before the estimate's FY.
2. **Banded roles.** The roles the file gives by AfC band (mental health practitioners, advanced
   practitioners) carry ``afc_band`` in their key. Their unbanded periods are superseded by copies
   with the band of the role.
3. **The file's rows.** A row whose key (role, geography, band, start) has no current period is
   added; one whose current period has the same amount changes nothing; one whose current period is
   an estimate with another amount supersedes it. A published period is never superseded by this
   load: that conflict stops the migration.

:func:`plan` is pure (tested without a database); :func:`apply_reference_rates` reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Table, select

from roles import rules
from roles.seed import ESTIMATE_SOURCE as SEED_ESTIMATE_SOURCE
from roles.seed import SEED_PRINCIPAL

FILE = "arrs-rates-2023-2026.json"


def load_rows() -> list[dict[str, Any]]:
    data = json.loads((resources.files("roles.seed") / FILE).read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = data["rows"]
    return rows


@dataclass(frozen=True, slots=True)
class Period:
    """A rate period as the planner sees it (``id`` None: planned, not yet written)."""

    id: int | None
    role_code: str
    geography: str
    afc_band: str | None
    effective_from: date
    annual_max_pence: int
    provenance: str
    source: str
    basis: str | None
    note: str | None
    supersedes_id: int | None
    created_by: str

    @property
    def key(self) -> tuple[str, str, str | None, date]:
        return self.role_code, self.geography, self.afc_band, self.effective_from


class ReferenceConflict(ValueError):
    """The file gives another amount for a published period: a person must decide."""


def _fy_end(day: date) -> date:
    return date(day.year + 1, 3, 31) if day.month >= 4 else date(day.year, 3, 31)


def _figure_dates(periods: list[Period], rows: list[Period]) -> dict[int, list[date]]:
    """Every amount published for the national geography, with the days it applied from."""
    out: dict[int, list[date]] = {}
    for p in [*periods, *rows]:
        if p.provenance == "published" and p.geography == "national":
            out.setdefault(p.annual_max_pence, []).append(p.effective_from)
    return out


def row_period(row: dict[str, Any]) -> Period:
    amount = row["annual_max_gbp"]
    if not isinstance(amount, int):
        raise ValueError(f"reference amount {amount!r} is not whole pounds")
    quote = row.get("quote")
    return Period(
        id=None,
        role_code=row["role_code"],
        geography=row["geography"],
        afc_band=rules.normalise_band(row["afc_band"]) if row.get("afc_band") else None,
        effective_from=date.fromisoformat(row["effective_from"]),
        annual_max_pence=amount * 100,
        provenance=row["provenance"],
        source=row["source"],
        basis=row["source"] if row["provenance"] == "estimated" else None,
        note=f"Quoted: {quote}" if quote else None,
        supersedes_id=None,
        created_by=SEED_PRINCIPAL,
    )


def plan(existing: list[Period], rows: list[dict[str, Any]], role_bands: dict[str, str | None]) -> list[Period]:
    """The periods to add, in order (a superseding period names the id of the one it replaces).

    ``existing``: every stored period; ``role_bands``: each role's catalogue ``afc_band``.
    """
    file_rows = [row_period(r) for r in rows]
    gone = {p.supersedes_id for p in existing if p.supersedes_id is not None}
    current: dict[tuple[str, str, str | None, date], Period] = {p.key: p for p in existing if p.id not in gone}
    added: list[Period] = []

    def supersede(old: Period, new: Period) -> None:
        assert old.id is not None
        current.pop(old.key, None)
        planned = replace(new, supersedes_id=old.id)
        current[planned.key] = planned
        added.append(planned)

    # 1. Estimates that start too early move to the day their figure applied.
    figures = _figure_dates(list(current.values()), file_rows)
    for p in sorted(current.values(), key=lambda p: (p.role_code, p.geography, p.effective_from)):
        if p.id is None or p.provenance != "estimated" or p.source != SEED_ESTIMATE_SOURCE:
            continue
        applied = [d for d in figures.get(p.annual_max_pence, []) if d <= _fy_end(p.effective_from)]
        start = max([p.effective_from, min(applied)]) if applied else p.effective_from
        if start == p.effective_from:
            continue
        if (p.role_code, p.geography, p.afc_band, start) in current:
            continue  # another period already starts that day; the estimate stays as it is
        supersede(
            p,
            replace(
                p,
                effective_from=start,
                created_by=SEED_PRINCIPAL,
                note=f"Starts on {start}, when the figure it is derived from applied (domain §4).",
            ),
        )

    # 2. The banded roles' unbanded periods take the role's band.
    banded = {p.role_code for p in file_rows if p.afc_band is not None}
    for p in sorted(current.values(), key=lambda p: (p.role_code, p.geography, p.effective_from)):
        if p.role_code not in banded or p.afc_band is not None or p.id is None:
            continue
        band = role_bands.get(p.role_code)
        known = {r.afc_band for r in file_rows if r.role_code == p.role_code}
        if band is None or rules.normalise_band(band) not in known:
            raise ReferenceConflict(f"{p.role_code} has unbanded periods and no single AfC band to give them")
        supersede(
            p,
            replace(
                p,
                afc_band=rules.normalise_band(band),
                created_by=SEED_PRINCIPAL,
                note=f"Band {rules.normalise_band(band)} made part of the key (domain §4: banded roles).",
            ),
        )

    # 3. The file's rows.
    for row in file_rows:
        held = current.get(row.key)
        if held is None:
            current[row.key] = row
            added.append(row)
        elif held.annual_max_pence == row.annual_max_pence:
            continue
        elif held.provenance == "published":
            raise ReferenceConflict(
                f"{row.key}: the file gives £{row.annual_max_pence / 100:,.0f}, the published period "
                f"£{held.annual_max_pence / 100:,.0f}; a person must decide"
            )
        elif held.id is None:
            raise ReferenceConflict(f"{row.key} is given twice with different amounts")
        else:
            supersede(held, row)
    return added


_COLUMNS = (
    "id",
    "role_code",
    "geography",
    "afc_band",
    "effective_from",
    "annual_max_pence",
    "provenance",
    "source",
    "basis",
    "note",
    "supersedes_id",
    "created_by",
)


def apply_reference_rates(conn: Connection, rate_period: Table, role: Table) -> int:
    """Write :func:`plan`'s periods (each superseding one after the one it replaces has its id);
    answers how many were added."""
    existing = [Period(**dict(r._mapping)) for r in conn.execute(select(*(rate_period.c[c] for c in _COLUMNS)))]
    bands: dict[str, str | None] = {
        row.code: row.afc_band for row in conn.execute(select(role.c.code, role.c.afc_band))
    }
    known = set(bands)
    rows = [r for r in load_rows() if r["role_code"] in known]
    planned = plan(existing, rows, bands)
    now = datetime.now(UTC)
    for period in planned:
        values = {c: getattr(period, c) for c in _COLUMNS if c != "id"}
        conn.execute(rate_period.insert().values(**values, created_at=now))
    return len(planned)
