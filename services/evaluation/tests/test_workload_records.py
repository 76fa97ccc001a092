"""The rules of one workload or list-size record, and of a CSV header, without a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.workload.parsing import Format
from evaluation.workload.reading import Kind, Layout, Reader
from evaluation.workload.records import (
    MAX_APPOINTMENTS,
    ListSizeRecords,
    WorkloadRecords,
)
from evaluation.workload.vocabulary import BASE_HCP_ROLES, vocabulary

ROOT = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = {
    "practice_code": "A81001",
    "grain": "week",
    "period_start": "2025-01-06",
    "hcp_role": "clinical_pharmacist",
    "national_category": "general_consultation_routine",
    "mode": "face_to_face",
    "status": "attended",
    "appointments": 12,
    "minutes": 140,
}
ROW = ("A81001", "week", "2025-01-06", "clinical_pharmacist", "general_consultation_routine", "face_to_face")
ROW_END = ("attended", 12, 140)


def check(**changes: Any) -> Any:
    return WorkloadRecords(vocabulary()).from_mapping({**GOOD, **changes})


def fields(result: Any) -> set[str]:
    assert isinstance(result, list), result
    return {name for name, _ in result}


def test_the_role_codes_are_the_catalogues() -> None:
    seed = json.loads((ROOT / "services/roles/roles/seed/arrs-roles.json").read_text())
    assert vocabulary().arrs_roles == {role["code"] for role in seed}


def test_a_good_record_becomes_its_row_and_the_same_record_again_the_same_row() -> None:
    records = WorkloadRecords(vocabulary())
    assert records.from_mapping(GOOD) == (*ROW, *ROW_END)
    assert records.from_mapping(GOOD) == (*ROW, *ROW_END)  # the second time from what it remembers
    assert records.from_mapping({**GOOD, "minutes": None}) == (*ROW, "attended", 12, None)
    without = {k: v for k, v in GOOD.items() if k != "minutes"}
    assert records.from_mapping(without) == (*ROW, "attended", 12, None)


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("practice_code", "a81001", "A81001"),
        ("hcp_role", "GP", "gp"),
        ("hcp_role", "Other Practice staff", "other_practice_staff"),
        ("hcp_role", "  Nurse ", "nurse"),
        ("hcp_role", "CLINICAL_PHARMACIST", "clinical_pharmacist"),
        ("national_category", "General Consultation Routine", "general_consultation_routine"),
        (
            "national_category",
            "care home needs assessment & personalised care and support planning",
            "care_home_needs_assessment",
        ),
        ("mode", "Face-to-Face", "face_to_face"),
        ("mode", "video/online", "video_online"),
        ("status", "DNA", "dna"),
        ("status", "attended", "attended"),
    ],
)
def test_codes_and_labels_in_any_case_are_stored_as_codes(field: str, value: str, stored: str) -> None:
    row = check(**{field: value})
    assert isinstance(row, tuple)
    index = ["practice_code", "grain", "period_start", "hcp_role", "national_category", "mode", "status"].index(field)
    assert row[index] == stored


@pytest.mark.parametrize(
    ("changes", "bad"),
    [
        ({"practice_code": "A8100"}, "practice_code"),
        ({"practice_code": "881001"}, "practice_code"),
        ({"practice_code": "A81001 "}, "practice_code"),
        ({"practice_code": "A８1001"}, "practice_code"),  # a full-width digit is no ODS code
        ({"practice_code": 81001}, "practice_code"),
        ({"grain": "Week"}, "grain"),
        ({"grain": "day"}, "grain"),
        ({"period_start": "2025-01-07"}, "period_start"),  # a Tuesday
        ({"period_start": "2025-1-6"}, "period_start"),
        ({"period_start": "2025-02-30"}, "period_start"),
        ({"period_start": "1999-12-27"}, "period_start"),
        ({"grain": "month", "period_start": "2025-01-06"}, "period_start"),
        ({"hcp_role": "physio"}, "hcp_role"),
        ({"hcp_role": "Clinical pharmacist"}, "hcp_role"),
        ({"hcp_role": None}, "hcp_role"),
        ({"national_category": "Routine"}, "national_category"),
        ({"mode": ["face_to_face"]}, "mode"),
        ({"status": "did not attend"}, "status"),
        ({"appointments": -1}, "appointments"),
        ({"appointments": MAX_APPOINTMENTS + 1}, "appointments"),
        ({"appointments": 1.0}, "appointments"),
        ({"appointments": True}, "appointments"),
        ({"appointments": "12"}, "appointments"),
        ({"appointments": None}, "appointments"),
        ({"minutes": -5}, "minutes"),
        ({"minutes": False}, "minutes"),
        ({"minutes": "140"}, "minutes"),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, Any], bad: str) -> None:
    assert fields(check(**changes)) == {bad}


def test_every_bad_field_of_a_record_is_named_and_so_is_a_record_that_is_not_an_object() -> None:
    result = check(practice_code="X", grain="week", period_start="2025-01-07", hcp_role="", appointments=-1)
    assert fields(result) == {"practice_code", "period_start", "hcp_role", "appointments"}
    assert WorkloadRecords(vocabulary()).from_mapping([GOOD]) == [("record", "a record is a JSON object")]
    unknown = dict(check(hcp_role="astronaut"))
    assert "is not a role code of the ARRS catalogue" in unknown["hcp_role"]
    assert "snake_case" in dict(check(hcp_role="Astro Naut!"))["hcp_role"]


def test_base_roles_and_every_catalogue_role_are_roles() -> None:
    for role in (*BASE_HCP_ROLES, *sorted(vocabulary().arrs_roles)):
        assert isinstance(check(hcp_role=role), tuple), role


def test_csv_cells_are_text() -> None:
    records = WorkloadRecords(vocabulary())
    cells = ["a81001", "month", "2025-10-01", "gp", "Clinical Triage", "Telephone", "Attended", " 7 ", ""]
    assert records.from_cells(cells) == (
        "A81001",
        "month",
        "2025-10-01",
        "gp",
        "clinical_triage",
        "telephone",
        "attended",
        7,
        None,
    )
    assert records.from_cells(cells) == records.from_cells(cells)
    assert fields(records.from_cells([*cells[:7], "7.0", "x"])) == {"appointments", "minutes"}
    assert fields(records.from_cells([*cells[:7], "-1", ""])) == {"appointments"}
    assert fields(records.from_cells([*cells[:7], "²", ""])) == {"appointments"}


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("01OCT2025", "2025-10-01"),
        ("01oct2025", "2025-10-01"),
        ("2025-10-01", "2025-10-01"),
        ("01Jan2024", "2024-01-01"),
    ],
)
def test_gpad_months(written: str, stored: str) -> None:
    cells = ["A81001", written, "Other Practice staff", "Planned Clinics", "Face-to-Face", "DNA", "3"]
    assert WorkloadRecords(vocabulary()).from_gpad(cells) == (
        "A81001",
        "month",
        stored,
        "other_practice_staff",
        "planned_clinics",
        "face_to_face",
        "dna",
        3,
        None,
    )


def test_gpad_problems_are_named_by_column() -> None:
    records = WorkloadRecords(vocabulary())
    bad = records.from_gpad(["Y1", "15OCT2025", "Nurse", "x", "x", "x", "many"])
    assert fields(bad) == {
        "GP_CODE",
        "APPOINTMENT_MONTH_START_DATE",
        "HCP_TYPE",  # GPAD has only GP, Other Practice staff and Unknown
        "NATIONAL_CATEGORY",
        "APPT_MODE",
        "APPT_STATUS",
        "COUNT_OF_APPOINTMENTS",
    }
    assert fields(records.from_gpad(["A81001", "32OCT2025", "GP", "Unmapped", "Unknown", "Unknown", "1"])) == {
        "APPOINTMENT_MONTH_START_DATE"
    }


def test_list_sizes() -> None:
    records = ListSizeRecords()
    assert records.from_mapping({"practice_code": "b82001", "month": "2025-10", "registered_patients": 9000}) == (
        "B82001",
        "2025-10-01",
        9000,
    )
    assert records.from_mapping({"practice_code": "B82001", "month": "2025-10-01", "registered_patients": 0}) == (
        "B82001",
        "2025-10-01",
        0,
    )
    bad = records.from_mapping({"practice_code": "B82001", "month": "2025-10-02", "registered_patients": -1})
    assert fields(bad) == {"month", "registered_patients"}
    assert fields(records.from_mapping({"month": "2025-13"})) == {"practice_code", "month", "registered_patients"}
    assert records.from_cells(["A81001", "2025-10", "12000"]) == ("A81001", "2025-10-01", 12000)


def csv_reader(kind: Kind, text: str) -> tuple[Reader, list[Any]]:
    reader = Reader(kind, Format.CSV)
    return reader, [item for batch in reader.batches([text.encode()]) for item in batch]


def test_csv_headers_are_read_by_name_in_any_order_and_case() -> None:
    text = "Minutes,STATUS,mode,national_category,hcp_role,period_start,grain,practice_code,appointments,extra\n"
    text += "30,attended,telephone,clinical_triage,nurse,2025-01-06,week,A81001,4,ignored\n"
    reader, items = csv_reader(Kind.WORKLOAD, text)
    assert reader.header_seen and reader.layout is Layout.RECORDS
    assert items == [(2, ("A81001", "week", "2025-01-06", "nurse", "clinical_triage", "telephone", "attended", 4, 30))]
    _, short = csv_reader(Kind.WORKLOAD, text + "A81001,week\n")
    assert short[-1] == (3, [("record", "the row has 2 cells; the header has more")])


def test_a_header_that_names_neither_layout_is_refused_at_line_1() -> None:
    reader, items = csv_reader(Kind.WORKLOAD, "practice_code,grain,period_start\nA81001,week,2025-01-06\n")
    assert not reader.header_seen
    assert items[0][0] == 1 and items[0][1][0][0] == "header"
    assert "missing: hcp_role, national_category, mode, status, appointments" in items[0][1][0][1]
    _, sizes = csv_reader(Kind.LIST_SIZE, "practice,month,patients\n")
    assert sizes == [
        (
            1,
            [
                (
                    "header",
                    "a list-size CSV has the columns practice_code, month, registered_patients "
                    "(missing: practice_code, registered_patients)",
                )
            ],
        )
    ]
