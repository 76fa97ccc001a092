"""The records of a bulk body, parsed (:mod:`parsing`) and checked (:mod:`records`) as it streams, and
the tally of what is wrong with them; no I/O.

A CSV body is recognised by its header row, its columns read by name (any order, any case; other
columns ignored): the platform's own columns (:data:`records.WORKLOAD_FIELDS`, ``minutes`` optional;
:data:`records.LIST_SIZE_FIELDS`) or, for workload, the published GPAD practice-level CSV (its
:data:`records.GPAD_FIELDS`; ``TIME_BETWEEN_BOOK_AND_APPT``, the names, the codes beside them and
anything else are ignored, so rows differing only in them add up to one record).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from evaluation.workload import parsing
from evaluation.workload.parsing import Format, Malformed
from evaluation.workload.records import (
    GPAD_FIELDS,
    LIST_SIZE_FIELDS,
    WORKLOAD_FIELDS,
    ListSizeRecords,
    Problems,
    WorkloadRecords,
)
from evaluation.workload.vocabulary import vocabulary

MAX_LISTED = 100
"""Bad records (and out-of-scope records) listed in a refusal; the rest are only counted."""


class Kind(StrEnum):
    WORKLOAD = "workload"
    LIST_SIZE = "list_size"


class Layout(StrEnum):
    """How the rows of a body combine: the platform's records (the last of a key wins) or GPAD's
    practice-level rows (the rows of a key are added up)."""

    RECORDS = "records"
    GPAD = "gpad"


Checked = tuple[int, tuple[Any, ...] | Problems]
"""A record's line and either its row or its problems."""


@dataclass(slots=True)
class Reader:
    """Checked records of one body: iterate :meth:`batches`; :attr:`layout` is known once the first
    batch is out."""

    kind: Kind
    format: Format
    layout: Layout = Layout.RECORDS
    header_seen: bool = False
    """For CSV: whether a header row was read (a CSV body without one is refused)."""

    def batches(self, chunks: Iterable[bytes]) -> Iterator[list[Checked]]:
        if self.format is Format.CSV:
            yield from self._csv(parsing.csv_rows(chunks))
            return
        parsed = parsing.json_array(chunks) if self.format is Format.JSON else parsing.ndjson(chunks)
        convert: Callable[[Any], tuple[Any, ...] | Problems] = (
            WorkloadRecords(vocabulary()).from_mapping if self.kind is Kind.WORKLOAD else ListSizeRecords().from_mapping
        )
        for items in parsed:
            yield [(line, _malformed(value) if type(value) is Malformed else convert(value)) for line, value in items]

    def _csv(self, parsed: Iterator[list[parsing.Item]]) -> Iterator[list[Checked]]:
        convert: Callable[[Sequence[str]], tuple[Any, ...] | Problems] | None = None
        columns: list[int] = []
        width = 0
        for items in parsed:
            out: list[Checked] = []
            for line, value in items:
                if type(value) is Malformed:
                    out.append((line, _malformed(value)))
                elif convert is None:
                    found = self._header(value)
                    if isinstance(found, str):
                        out.append((line, [("header", found)]))
                        yield out
                        for _ in parsed:  # still read to the end of the body, checking nothing
                            pass
                        return
                    convert, columns = found
                    self.header_seen = True
                    width = max(columns) + 1
                elif len(value) < width:
                    out.append((line, [("record", f"the row has {len(value)} cells; the header has more")]))
                else:
                    out.append((line, convert([value[i] for i in columns])))
            yield out

    def _header(
        self, header: list[str]
    ) -> str | tuple[Callable[[Sequence[str]], tuple[Any, ...] | Problems], list[int]]:
        names = [name.strip().lower() for name in header]
        index = {name: i for i, name in reversed(list(enumerate(names)))}
        if self.kind is Kind.LIST_SIZE:
            wanted: Sequence[str] = LIST_SIZE_FIELDS
            missing = [name for name in wanted if name not in index]
            if missing:
                return f"a list-size CSV has the columns {', '.join(LIST_SIZE_FIELDS)} (missing: {', '.join(missing)})"
            return ListSizeRecords().from_cells, [index[name] for name in wanted]
        workload = WorkloadRecords(vocabulary())
        own = [name for name in WORKLOAD_FIELDS if name not in index and name != "minutes"]
        gpad = [name for name in GPAD_FIELDS if name.lower() not in index]
        if not own:
            if "minutes" not in index:  # an absent minutes column reads as empty cells
                return _without_minutes(workload), [index[name] for name in WORKLOAD_FIELDS[:-1]]
            return workload.from_cells, [index[name] for name in WORKLOAD_FIELDS]
        if not gpad:
            self.layout = Layout.GPAD
            return workload.from_gpad, [index[name.lower()] for name in GPAD_FIELDS]
        closest = own if len(own) <= len(gpad) else gpad
        return (
            "the header names neither the platform's workload columns ("
            + ", ".join(WORKLOAD_FIELDS)
            + ") nor the GPAD practice-level columns ("
            + ", ".join(GPAD_FIELDS)
            + f"); missing: {', '.join(closest)}"
        )


def _without_minutes(
    workload: WorkloadRecords,
) -> Callable[[Sequence[str]], tuple[Any, ...] | Problems]:
    def convert(cells: Sequence[str]) -> tuple[Any, ...] | Problems:
        return workload.from_cells([*cells, ""])

    return convert


def _malformed(value: Malformed) -> Problems:
    return [("record", value.message)]


@dataclass(slots=True)
class Tally:
    """What is wrong with a body: the first :data:`MAX_LISTED` bad records with their problems,
    how many there are, and the first out-of-scope records."""

    allowed: frozenset[str] | None
    """The practice codes the caller may post for; None for any."""
    received: int = 0
    invalid: int = 0
    out_of_scope: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    scope_lines: list[int] = field(default_factory=list)

    def refuse(self, line: int, problems: Problems) -> None:
        self.invalid += 1
        if self.invalid <= MAX_LISTED:
            self.problems.extend(
                {"loc": ["body", line, name], "msg": message, "line": line, "field": name} for name, message in problems
            )

    def stray(self, line: int) -> None:
        self.out_of_scope += 1
        if self.out_of_scope <= MAX_LISTED:
            self.scope_lines.append(line)

    @property
    def clean(self) -> bool:
        return self.invalid == 0 and self.out_of_scope == 0
