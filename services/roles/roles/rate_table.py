"""Reading a rate table (``POST /v1/rates/imports``): CSV bytes in, rows and problems out, no I/O.

UTF-8 (a byte-order mark is skipped); a header row naming the columns, in any order and any case
(names trimmed); then one rate period a row, cells trimmed. Blank lines are skipped. Rows are
numbered from 1 (the header is row 0; blank lines are not rows), and every problem also gives the
``line`` of the file its row starts on (a quoted cell may span lines). Every problem of every row is
reported, not just the first.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from arrs_kit.types import MAX_DATE, MIN_DATE, refuse_control_characters
from roles import rules
from roles.errors import PayloadTooLarge
from roles.models import PROVENANCES
from roles.schemas import AFC_BAND_PATTERN, MAX_ANNUAL_PENCE

MEDIA_TYPE = "text/csv"
MAX_BYTES = 1_048_576
"""Largest body read: the gateway's own limit on a request body (``max_body_bytes``)."""
MAX_ROWS = 5_000
"""Most data rows in one file (the 2023-2026 reference table has 288)."""
REQUIRED = ("role_code", "geography", "effective_from", "annual_max_pence", "source")
OPTIONAL = ("afc_band", "provenance")
COLUMNS = REQUIRED + OPTIONAL
DEFAULT_PROVENANCE = "published"
SOURCE_CHARS = (3, 4000)  # as schemas.Source

_CODE = re.compile(r"[a-z][a-z0-9_]{1,63}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PENCE = re.compile(r"[0-9]{1,12}")
_BAND = re.compile(AFC_BAND_PATTERN)

Key = tuple[str, str, str | None, date]


def is_csv(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is ``text/csv`` (any charset it names must be UTF-8)."""
    if not content_type:
        return False
    media, *params = (part.strip() for part in content_type.split(";"))
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return media.lower() == MEDIA_TYPE


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of the file: ``row`` 0 is the header (or the file as a whole)."""

    row: int
    line: int
    column: str | None
    code: str
    detail: str

    def public(self) -> dict[str, Any]:
        loc: list[str | int] = ["body", self.row] if self.column is None else ["body", self.row, self.column]
        return {
            "loc": loc,
            "msg": self.detail,
            "row": self.row,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "detail": self.detail,
        }

    @property
    def position(self) -> tuple[int, int]:
        return self.row, COLUMNS.index(self.column) if self.column in COLUMNS else -1


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A data row whose every cell is valid, values normalised."""

    row: int
    line: int
    role_code: str
    geography: str
    afc_band: str | None
    effective_from: date
    annual_max_pence: int
    source: str
    provenance: str

    @property
    def key(self) -> Key:
        return self.role_code, self.geography, self.afc_band, self.effective_from


@dataclass(slots=True)
class Draft:
    """A data row as read: ``values`` holds the cells that are valid (all seven: a complete row)."""

    row: int
    line: int
    values: dict[str, Any] = field(default_factory=dict)

    def complete(self) -> ImportRow | None:
        return ImportRow(self.row, self.line, **self.values) if len(self.values) == len(COLUMNS) else None


@dataclass(slots=True)
class Parsed:
    drafts: list[Draft]
    errors: list[RowError]

    def rows(self) -> list[ImportRow]:
        return [row for draft in self.drafts if (row := draft.complete()) is not None]


class _Bad(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _required(column: str, text: str) -> str:
    if not text:
        raise _Bad("missing", f"{column} is required.")
    return text


def _role_code(text: str) -> str:
    code = rules.normalise_code(_required("role_code", text))
    if not _CODE.fullmatch(code):
        raise _Bad("unknown-role", f"{text!r} is not a role code.")
    return code


def _geography(text: str) -> str:
    geography = _required("geography", text).lower()
    if geography not in rules.GEOGRAPHIES:
        raise _Bad("invalid-geography", f"geography is one of {', '.join(rules.GEOGRAPHIES)}, not {text!r}.")
    return geography


def _effective_from(text: str) -> date:
    problem = _Bad("invalid-date", f"effective_from is a date YYYY-MM-DD from {MIN_DATE} to {MAX_DATE}, not {text!r}.")
    if not _DATE.fullmatch(_required("effective_from", text)):
        raise problem
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise problem from exc
    if not MIN_DATE <= day <= MAX_DATE:
        raise problem
    return day


def _annual_max_pence(text: str) -> int:
    if _PENCE.fullmatch(_required("annual_max_pence", text)) and 1 <= int(text) <= MAX_ANNUAL_PENCE:
        return int(text)
    raise _Bad(
        "invalid-amount",
        f"annual_max_pence is a whole number of pence from 1 to {MAX_ANNUAL_PENCE:,} "
        f"(no pounds, separators or decimals), not {text!r}.",
    )


def _source(text: str) -> str:
    low, high = SOURCE_CHARS
    _required("source", text)
    try:
        refuse_control_characters(text)
    except ValueError as exc:
        raise _Bad("invalid-source", "source must not contain control characters.") from exc
    if not low <= len(text) <= high:
        raise _Bad("invalid-source", f"source is {low} to {high} characters, not {len(text)}.")
    return text


def _afc_band(text: str) -> str | None:
    if not text:
        return None
    if not _BAND.fullmatch(text):
        raise _Bad("invalid-band", f"afc_band is an AfC band such as 4, 7 or 8a, not {text!r}.")
    return rules.normalise_band(text)


def _provenance(text: str) -> str:
    provenance = text.lower() or DEFAULT_PROVENANCE
    if provenance not in PROVENANCES:
        raise _Bad("invalid-provenance", f"provenance is published or estimated (empty: published), not {text!r}.")
    return provenance


READERS: dict[str, Callable[[str], Any]] = {
    "role_code": _role_code,
    "geography": _geography,
    "effective_from": _effective_from,
    "annual_max_pence": _annual_max_pence,
    "source": _source,
    "afc_band": _afc_band,
    "provenance": _provenance,
}


def _records(text: str) -> tuple[list[tuple[int, list[str]]], RowError | None]:
    """The non-blank records with the line each starts on; a record that is not CSV ends the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            start, last = last + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
                if len(records) > MAX_ROWS + 1:
                    raise PayloadTooLarge(f"A rate table has at most {MAX_ROWS:,} rows; send it in parts.")
    except csv.Error as exc:
        return records, RowError(len(records), last + 1, None, "malformed-csv", f"Not valid CSV: {exc}.")
    return records, None


def _header(cells: Sequence[str], line: int) -> tuple[list[str | None], list[RowError]]:
    names: list[str | None] = [cell.strip().lower() or None for cell in cells]
    errors: list[RowError] = []
    for position, name in enumerate(names):
        if name is None:
            continue
        if name not in COLUMNS:
            detail = f"{cells[position].strip()!r} is not a column of the rate table ({', '.join(COLUMNS)})."
            errors.append(RowError(0, line, name, "unknown-column", detail))
        elif name in names[:position]:
            errors.append(RowError(0, line, name, "duplicate-column", f"{name} is given twice."))
    errors.extend(
        RowError(0, line, name, "missing-column", f"The header has no {name} column.")
        for name in REQUIRED
        if name not in names
    )
    return names, errors


def _read(row: int, line: int, cells: Sequence[str], names: Sequence[str | None]) -> tuple[Draft, list[RowError]]:
    draft = Draft(row, line)
    # Cells under no column name (past the header's end, or under an empty name) must be empty.
    needed = max(position for position, name in enumerate(names) if name is not None) + 1
    stray = [cell for position, cell in enumerate(cells) if position >= len(names) or names[position] is None]
    if len(cells) < needed or any(cell.strip() for cell in stray):
        detail = f"The row has {len(cells)} cells where the header names {sum(n is not None for n in names)}."
        return draft, [RowError(row, line, None, "wrong-cell-count", detail)]
    errors: list[RowError] = []
    given = {name: cells[position].strip() for position, name in enumerate(names) if name is not None}
    for column, read in READERS.items():
        try:
            draft.values[column] = read(given.get(column, ""))
        except _Bad as bad:
            errors.append(RowError(row, line, column, bad.code, bad.detail))
    return draft, errors


def _duplicates(drafts: Iterable[Draft]) -> list[RowError]:
    """Later rows of a key with another amount than its first row's."""
    first: dict[Key, ImportRow] = {}
    errors: list[RowError] = []
    for draft in drafts:
        row = draft.complete()
        if row is None:
            continue
        earlier = first.setdefault(row.key, row)
        if earlier.annual_max_pence != row.annual_max_pence:
            detail = (
                f"Row {earlier.row} gives the same role, geography, band and effective_from with "
                f"{earlier.annual_max_pence} pence, this row {row.annual_max_pence}."
            )
            errors.append(RowError(row.row, row.line, "annual_max_pence", "duplicate-key", detail))
    return errors


def parse(body: bytes) -> Parsed:
    """Read a CSV body: UTF-8 (a byte-order mark is skipped), a header row naming the columns (any
    case, any order, spaces trimmed), then one period a row; cells are trimmed. Raises
    :class:`PayloadTooLarge` past :data:`MAX_ROWS` rows."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        return Parsed([], [RowError(0, line, None, "not-utf-8", "The body is not UTF-8 text.")])
    records, broken = _records(text)
    errors = [broken] if broken is not None else []
    if not records:
        if broken is None:
            errors.append(RowError(0, 1, None, "missing-header", f"The file needs a header row: {', '.join(COLUMNS)}."))
        return Parsed([], errors)
    (header_line, header), *data = records
    names, header_errors = _header(header, header_line)
    if header_errors:
        return Parsed([], [*header_errors, *errors])
    drafts: list[Draft] = []
    for row, (line, cells) in enumerate(data, start=1):
        draft, problems = _read(row, line, cells, names)
        drafts.append(draft)
        errors.extend(problems)
    errors.extend(_duplicates(drafts))
    return Parsed(drafts, errors)
