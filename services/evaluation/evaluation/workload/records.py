"""One record in, one row (or the reasons it is refused) out: the rules of a workload or list-size
record, with no I/O (domain.md §7).

A row is a plain tuple of validated values, ready for the database: codes in lower snake_case,
practice codes upper-case, dates as ISO strings (``period_start`` a Monday for ``week``, the 1st for
``month``). None of them can hold a tab, a newline or a backslash, so the repository writes them to
COPY's text format as they are.

The checkers remember the spellings they have accepted (a national upload repeats a few thousand
practice codes and a few hundred dates a million times): a record already seen costs dict lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from evaluation.workload.values import FIRST_DAY, LAST_DAY, LIMIT, Checks, count, count_text
from evaluation.workload.vocabulary import GRAINS, Vocabulary, role_problem, term_problem

MAX_APPOINTMENTS = 1_000_000
"""Most appointments one record may count (a sanity bound far above any practice's week or month)."""
MAX_MINUTES = 100_000_000
MAX_REGISTERED_PATIENTS = 2_000_000

WorkloadRow = tuple[str, str, str, str, str, str, str, int, int | None]
"""practice_code, grain, period_start, hcp_role, national_category, mode, status, appointments, minutes"""
ListSizeRow = tuple[str, str, int]
"""practice_code, month (its first day), registered_patients"""
Problems = list[tuple[str, str]]
"""(field, message) for each field of a record that is not valid."""

WORKLOAD_FIELDS = (
    "practice_code",
    "grain",
    "period_start",
    "hcp_role",
    "national_category",
    "mode",
    "status",
    "appointments",
    "minutes",
)
LIST_SIZE_FIELDS = ("practice_code", "month", "registered_patients")
GPAD_FIELDS = (
    "GP_CODE",
    "APPOINTMENT_MONTH_START_DATE",
    "HCP_TYPE",
    "NATIONAL_CATEGORY",
    "APPT_MODE",
    "APPT_STATUS",
    "COUNT_OF_APPOINTMENTS",
)
"""The columns of the published GPAD practice-level CSV a workload import reads (by name)."""

_ALL_FIELDS = itemgetter(*WORKLOAD_FIELDS)


def _count_problem(field: str, most: int) -> str:
    return f"{field} is a whole number from 0 to {most:,}"


def _practice_problem(field: str) -> str:
    return f"{field} is an ODS practice code: a letter and five digits, e.g. A81001"


class WorkloadRecords:
    """Workload records of every format into :data:`WorkloadRow`, or the problems of each field.

    Each entry point first tries the values it has seen before (dict lookups only); anything new
    goes the long way round, which checks it, remembers it when it is valid, and explains it when
    it is not."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.v = vocabulary
        self.checks = Checks()
        self._periods = {"week": self.checks.weeks, "month": self.checks.months}
        self._counts: dict[str, int] = {}
        self._minutes: dict[str, int | None] = {"": None}

    def from_mapping(self, obj: Any) -> WorkloadRow | Problems:
        """A JSON object (JSON array or NDJSON): counts are JSON integers, ``minutes`` may be absent."""
        try:
            practice, grain, period, role, category, mode, status, appointments, minutes = _ALL_FIELDS(obj)
        except (KeyError, TypeError, IndexError):  # minutes absent, another field absent, or no object
            return self._mapping(obj)
        if (
            type(appointments) is int
            and 0 <= appointments <= MAX_APPOINTMENTS
            and (minutes is None or (type(minutes) is int and 0 <= minutes <= MAX_MINUTES))
        ):
            try:
                return (
                    self.checks.practices[practice],
                    grain,
                    self._periods[grain][period],
                    self.v.hcp_role.seen[role],
                    self.v.national_category.seen[category],
                    self.v.mode.seen[mode],
                    self.v.status.seen[status],
                    appointments,
                    minutes,
                )
            except (KeyError, TypeError):  # a value not seen before (or not a string at all)
                pass
        return self._mapping(obj)

    def _mapping(self, obj: Any) -> WorkloadRow | Problems:
        if type(obj) is not dict:
            return [("record", "a record is a JSON object")]
        get: Callable[[str], Any] = obj.get
        appointments = get("appointments")
        minutes = get("minutes")
        row = self._row(
            get("practice_code"),
            get("grain"),
            get("period_start"),
            get("hcp_role"),
            get("national_category"),
            get("mode"),
            get("status"),
            count(appointments, MAX_APPOINTMENTS),
            minutes,
            minutes is not None,
        )
        return row if row is not None else self._problems(obj, text=False)

    def from_cells(self, cells: Sequence[str]) -> WorkloadRow | Problems:
        """The platform's own CSV columns, in :data:`WORKLOAD_FIELDS` order (an empty ``minutes`` is none)."""
        practice, grain, period, role, category, mode, status, appointments, minutes = cells
        try:
            return (
                self.checks.practices[practice],
                grain,
                self._periods[grain][period],
                self.v.hcp_role.seen[role],
                self.v.national_category.seen[category],
                self.v.mode.seen[mode],
                self.v.status.seen[status],
                self._counts[appointments],
                self._minutes[minutes],
            )
        except KeyError:
            pass
        appointments_value = self._count(appointments)
        minutes_value = None
        if has_minutes := bool(minutes.strip()):
            minutes_value = count_text(minutes, MAX_MINUTES)
            if minutes_value is not None and len(self._minutes) < LIMIT:
                self._minutes[minutes] = minutes_value
        row = self._row(
            practice, grain, period, role, category, mode, status, appointments_value, minutes_value, has_minutes
        )
        return row if row is not None else self._problems(dict(zip(WORKLOAD_FIELDS, cells, strict=True)), text=True)

    def _count(self, raw: str) -> int | None:
        value = count_text(raw, MAX_APPOINTMENTS)
        if value is not None and len(self._counts) < LIMIT:
            self._counts[raw] = value
        return value

    def _row(
        self,
        practice_raw: Any,
        grain: Any,
        period_raw: Any,
        role_raw: Any,
        category_raw: Any,
        mode_raw: Any,
        status_raw: Any,
        appointments: int | None,
        minutes: Any,
        has_minutes: bool,
    ) -> WorkloadRow | None:
        """The long way round: every check, remembering what passes."""
        practice = self.checks.practice(practice_raw)
        period = self.checks.period(grain, period_raw)
        role = self.v.hcp_role.code(role_raw)
        category = self.v.national_category.code(category_raw)
        mode = self.v.mode.code(mode_raw)
        status = self.v.status.code(status_raw)
        if has_minutes and type(minutes) is not int:
            minutes = None
        if (
            practice is None
            or period is None
            or role is None
            or category is None
            or mode is None
            or status is None
            or appointments is None
            or (has_minutes and (minutes is None or not 0 <= minutes <= MAX_MINUTES))
        ):
            return None
        return (practice, grain, period, role, category, mode, status, appointments, minutes)

    def _problems(self, obj: dict[str, Any], *, text: bool) -> Problems:
        problems: Problems = []
        get = obj.get
        if self.checks.practice(get("practice_code")) is None:
            problems.append(("practice_code", _practice_problem("practice_code")))
        grain = get("grain")
        if grain not in GRAINS:
            problems.append(("grain", "grain is week or month"))
        elif self.checks.period(grain, get("period_start")) is None:
            first = "a Monday" if grain == "week" else "the 1st of a month"
            problems.append(("period_start", f"period_start is {first}, YYYY-MM-DD, from {FIRST_DAY} to {LAST_DAY}"))
        if self.v.hcp_role.code(get("hcp_role")) is None:
            problems.append(("hcp_role", role_problem(get("hcp_role"))))
        for field, terms in (
            ("national_category", self.v.national_category),
            ("mode", self.v.mode),
            ("status", self.v.status),
        ):
            if terms.code(get(field)) is None:
                problems.append((field, term_problem(field, terms, get(field))))
        read: Callable[[Any, int], int | None] = count_text if text else count
        if read(get("appointments"), MAX_APPOINTMENTS) is None:
            problems.append(("appointments", _count_problem("appointments", MAX_APPOINTMENTS)))
        minutes = get("minutes")
        if minutes is not None and (not text or minutes.strip()) and read(minutes, MAX_MINUTES) is None:
            problems.append(("minutes", _count_problem("minutes", MAX_MINUTES) + ", or absent"))
        return problems

    def from_gpad(self, cells: Sequence[str]) -> WorkloadRow | Problems:
        """A row of the published GPAD practice-level CSV, its :data:`GPAD_FIELDS` picked out by
        name: stored at month grain, with no minutes."""
        practice_raw, month_raw, hcp_type_raw, category_raw, mode_raw, status_raw, appointments_raw = cells
        try:
            return (
                self.checks.practices[practice_raw],
                "month",
                self.checks.gpad_months[month_raw],
                self.v.hcp_type.seen[hcp_type_raw],
                self.v.national_category.seen[category_raw],
                self.v.mode.seen[mode_raw],
                self.v.status.seen[status_raw],
                self._counts[appointments_raw],
                None,
            )
        except KeyError:
            pass
        practice = self.checks.practice(practice_raw)
        period = self.checks.gpad_month(month_raw)
        role = self.v.hcp_type.code(hcp_type_raw)
        category = self.v.national_category.code(category_raw)
        mode = self.v.mode.code(mode_raw)
        status = self.v.status.code(status_raw)
        appointments = self._count(appointments_raw)
        if (
            practice is not None
            and period is not None
            and role is not None
            and category is not None
            and mode is not None
            and status is not None
            and appointments is not None
        ):
            return (practice, "month", period, role, category, mode, status, appointments, None)
        problems: Problems = []
        if practice is None:
            problems.append(("GP_CODE", _practice_problem("GP_CODE")))
        if period is None:
            problems.append(("APPOINTMENT_MONTH_START_DATE", "the first day of a month, written like 01OCT2025"))
        if role is None:
            problems.append(("HCP_TYPE", term_problem("HCP_TYPE", self.v.hcp_type, hcp_type_raw)))
        for field, terms, raw in (
            ("NATIONAL_CATEGORY", self.v.national_category, category_raw),
            ("APPT_MODE", self.v.mode, mode_raw),
            ("APPT_STATUS", self.v.status, status_raw),
        ):
            if terms.code(raw) is None:
                problems.append((field, term_problem(field, terms, raw)))
        if appointments is None:
            problems.append(("COUNT_OF_APPOINTMENTS", _count_problem("COUNT_OF_APPOINTMENTS", MAX_APPOINTMENTS)))
        return problems


class ListSizeRecords:
    """List-size records into :data:`ListSizeRow`, or the problems of each field."""

    def __init__(self) -> None:
        self.checks = Checks()

    def from_mapping(self, obj: Any) -> ListSizeRow | Problems:
        if type(obj) is not dict:
            return [("record", "a record is a JSON object")]
        return self._row(obj.get("practice_code"), obj.get("month"), obj.get("registered_patients"), text=False)

    def from_cells(self, cells: Sequence[str]) -> ListSizeRow | Problems:
        practice, month, patients = cells
        return self._row(practice, month, patients, text=True)

    def _row(self, practice_raw: Any, month_raw: Any, patients_raw: Any, *, text: bool) -> ListSizeRow | Problems:
        practice = self.checks.practice(practice_raw)
        month = self.checks.list_month(month_raw)
        patients = (
            count_text(patients_raw, MAX_REGISTERED_PATIENTS) if text else count(patients_raw, MAX_REGISTERED_PATIENTS)
        )
        if practice is not None and month is not None and patients is not None:
            return (practice, month, patients)
        problems: Problems = []
        if practice is None:
            problems.append(("practice_code", _practice_problem("practice_code")))
        if month is None:
            problems.append(("month", f"month is YYYY-MM (or YYYY-MM-01), from {FIRST_DAY:%Y-%m} to {LAST_DAY:%Y-%m}"))
        if patients is None:
            problems.append(("registered_patients", _count_problem("registered_patients", MAX_REGISTERED_PATIENTS)))
        return problems
