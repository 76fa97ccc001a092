"""Request and response bodies of workload and list sizes.

The ``…RecordIn`` models document what a bulk body may hold (the parser in :mod:`records` applies
the rules, record by record, as the body streams); the ``…Record`` models are what reads answer.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from evaluation import examples
from evaluation.workload.records import MAX_APPOINTMENTS, MAX_MINUTES, MAX_REGISTERED_PATIENTS

PRACTICE_CODE_PATTERN = r"^[A-Za-z][0-9]{5}$"
MONTH_PATTERN = r"^[0-9]{4}-[0-9]{2}$"

PracticeCodeIn = Annotated[
    str,
    Field(
        pattern=PRACTICE_CODE_PATTERN,
        description="ODS practice code, a letter and 5 digits (any case).",
        examples=["A81001"],
    ),
]
WorkloadGrain = TypeAliasType(
    "WorkloadGrain",
    Annotated[
        Literal["week", "month"],
        Field(title="WorkloadGrain", description="A workload record's period: a `week` (from a Monday) or a `month`."),
    ],
)
_VOCABULARY = "A GPAD code or label (any case), stored as the code; see `reference/gpad-vocabulary.json`."


class UploadResult(BaseModel):
    """What an accepted upload did."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.UPLOAD_RESULT))

    received: int = Field(description="Records in the body (GPAD rows before they are added up).")
    inserted: int = Field(description="Keys that did not exist before.")
    replaced: int = Field(description="Keys that existed before, whatever their value; their values are replaced.")


class WorkloadRecordIn(BaseModel):
    """One workload record as posted (JSON array element, NDJSON line, or CSV row)."""

    practice_code: PracticeCodeIn
    grain: WorkloadGrain = Field(description="`week` (period_start a Monday) or `month` (period_start the 1st).")
    period_start: date = Field(description="The first day of the week or month, YYYY-MM-DD.")
    hcp_role: str = Field(
        min_length=1,
        max_length=64,
        description="`gp`, `nurse`, `other_practice_staff`, `unknown` or an ARRS role code of the catalogue "
        "(`clinical_pharmacist`); GPAD's labels `GP`, `Other Practice staff`, `Unknown` are read too.",
    )
    national_category: str = Field(min_length=1, max_length=100, description=_VOCABULARY)
    mode: str = Field(min_length=1, max_length=100, description=_VOCABULARY)
    status: str = Field(min_length=1, max_length=100, description=_VOCABULARY)
    appointments: int = Field(ge=0, le=MAX_APPOINTMENTS)
    minutes: int | None = Field(None, ge=0, le=MAX_MINUTES, description="Appointment minutes, if known.")


class WorkloadRecords(RootModel[list[WorkloadRecordIn]]):
    """A JSON array of workload records."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.WORKLOAD_RECORDS))


class ListSizeRecordIn(BaseModel):
    """One list-size record as posted."""

    practice_code: PracticeCodeIn
    month: str = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}(-01)?$",
        description="The month, `YYYY-MM` (its first day, `YYYY-MM-01`, is read too).",
        examples=["2025-10"],
    )
    registered_patients: int = Field(ge=0, le=MAX_REGISTERED_PATIENTS)


class ListSizeRecords(RootModel[list[ListSizeRecordIn]]):
    """A JSON array of list-size records."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.LIST_SIZE_RECORDS))


class WorkloadRecord(BaseModel):
    """A stored workload count: codes as stored."""

    practice_code: str = Field(examples=["A81001"])
    grain: WorkloadGrain
    period_start: date
    hcp_role: str = Field(examples=["gp"])
    national_category: str = Field(examples=["general_consultation_routine"])
    mode: str = Field(examples=["face_to_face"])
    status: str = Field(examples=["attended"])
    appointments: int
    minutes: int | None


class WorkloadPage(Page[WorkloadRecord]):
    """A page of workload counts, ordered by practice, grain, period and the rest of the key."""


class ListSizeRecord(BaseModel):
    """A practice's registered list size in a month."""

    practice_code: str = Field(examples=["A81001"])
    month: str = Field(pattern=MONTH_PATTERN, examples=["2025-10"])
    registered_patients: int


class ListSizePage(Page[ListSizeRecord]):
    """A page of list sizes, ordered by practice and month."""
