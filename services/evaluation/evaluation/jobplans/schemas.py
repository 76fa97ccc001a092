"""Request and response bodies of job plans, KPIs and measurements."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, RootModel, WithJsonSchema
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import BoundedDate, NoControlCharacters
from evaluation import examples
from evaluation.analyses.attainment import Direction
from evaluation.periods import Frequency

PRACTICE_CODE_PATTERN = r"^[A-Za-z][0-9]{5}$"
_DECIMAL = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,4})?$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Name = Annotated[str, Field(min_length=1, max_length=200), NoControlCharacters]
Text = Annotated[str, Field(min_length=1, max_length=4000), NoControlCharacters]
PracticeCode = Annotated[str, Field(pattern=PRACTICE_CODE_PATTERN), AfterValidator(str.upper)]


def _decimal_text(value: Any) -> str:
    """A KPI value or target: a JSON number or a decimal string, up to 12 digits and 4 decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a number, or a decimal string such as '72.5'")
    text = value if isinstance(value, str) else repr(value)
    if not _DECIMAL.match(text):
        raise ValueError("a number with up to 12 digits and 4 decimals, such as 72.5")
    try:
        return str(Decimal(text).normalize()) if "." in text else str(int(text))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError("not a number") from exc


DecimalText = Annotated[
    str,
    BeforeValidator(_decimal_text),
    # In: a number or a decimal string; out: always the exact decimal string.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": -999_999_999_999, "maximum": 999_999_999_999},
                {"type": "string", "pattern": _DECIMAL.pattern},
            ],
            "description": "A number (or decimal string), up to 12 digits and 4 decimals.",
            "examples": ["72.5"],
        },
        mode="validation",
    ),
]


class Person(Strict):
    name: Name
    role: Name


class Weekday(StrEnum):
    """A day of the working week."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


SessionPart = TypeAliasType(
    "SessionPart",
    Annotated[Literal["am", "pm"], Field(title="SessionPart", description="A morning (`am`) or an afternoon (`pm`).")],
)
JobPlanSupervisionFrequency = TypeAliasType(
    "JobPlanSupervisionFrequency",
    Annotated[
        Literal["weekly", "fortnightly", "monthly", "quarterly"],
        Field(title="JobPlanSupervisionFrequency", description="How often a job plan says its holder is supervised."),
    ],
)


class Session(Strict):
    """One session of the working week (a morning or an afternoon), where and doing what."""

    day: Weekday
    part: SessionPart
    practice_code: PracticeCode | None = None
    activity: Name


class Supervision(Strict):
    supervisor: Person | None = Field(None, description="The named supervisor.")
    frequency: JobPlanSupervisionFrequency | None = None
    arrangement: Text | None = Field(None, description="How supervision works (who, where, escalation).")


class JobPlanBody(Strict):
    """The six questions a PCN must be able to answer about every role (domain.md §7). A plan may be
    saved before every question is answered: the answer lists what is still `unanswered`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.JOB_PLAN_BODY]})

    purpose: Text | None = Field(None, description="1. What the role is for.")
    responsibilities: Annotated[list[Text], Field(max_length=30)] = Field(
        default_factory=list, description="2. How it works: what the post holder does."
    )
    practice_codes: Annotated[list[PracticeCode], Field(max_length=100)] = Field(
        default_factory=list, description="2. How it works: the practices served (among the post's)."
    )
    sessions: Annotated[list[Session], Field(max_length=20)] = Field(
        default_factory=list, description="2. How it works: the sessions of the week."
    )
    accountable: Person | None = Field(None, description="3. The named person in the PCN accountable for the role.")
    supporting: Annotated[list[Person], Field(max_length=10)] = Field(
        default_factory=list, description="3. The named people who support it."
    )
    expected_outcomes: Annotated[list[Text], Field(max_length=20)] = Field(
        default_factory=list, description="4. The outcomes expected (each measured by a KPI)."
    )
    measurement_frequency: Frequency | None = Field(None, description="5. How often the outcomes are measured.")
    measurement_method: Text | None = Field(None, description="5. How they are measured.")
    supervision: Supervision = Field(default_factory=Supervision, description="6. The supervision arrangement.")


class Question(StrEnum):
    """One of the six questions a job plan answers."""

    PURPOSE = "purpose"
    HOW_IT_WORKS = "how_it_works"
    PEOPLE = "people"
    OUTCOMES = "outcomes"
    MEASUREMENT = "measurement"
    SUPERVISION = "supervision"


class JobPlanPublic(JobPlanBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra=schema_examples(examples.JOB_PLAN))

    post_id: int
    pcn_code: str
    role_code: str
    version: int = Field(description="1 for the first plan; each replacement adds one (older ones stay readable).")
    complete: bool = Field(description="Every one of the six questions is answered.")
    unanswered: list[Question]
    created_at: datetime = Field(description="When this version was saved.")
    created_by: str = Field(description="Who saved it (the client's display name).")


class JobPlanVersionPage(Page[JobPlanPublic]):
    """A page of a job plan's versions, newest first."""


class SuggestedKpi(BaseModel):
    name: str
    unit: str
    direction: str
    frequency: str
    suggested_target: str | None
    measure: str | None


class JobPlanFromTemplate(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.JOB_PLAN_FROM_TEMPLATE))

    job_plan: JobPlanPublic
    suggested_kpis: list[SuggestedKpi] = Field(
        description="The template's suggested KPIs: add them with a target (`POST /v1/job-plans/{post_id}/kpis`)."
    )


KpiUnit = TypeAliasType(
    "KpiUnit",
    Annotated[
        Literal["count", "percent", "minutes", "hours", "days", "ratio", "patients", "pounds"],
        Field(title="KpiUnit", description="The unit a KPI is measured in."),
    ],
)
KpiStatus = TypeAliasType(
    "KpiStatus",
    Annotated[
        Literal["active", "retired"],
        Field(title="KpiStatus", description="`active`, or `retired` (kept with its measurements; takes no more)."),
    ],
)


class KpiCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Structured medication reviews completed",
                    "unit": "count",
                    "direction": "higher_is_better",
                    "frequency": "monthly",
                    "target": 40,
                    "baseline": 12,
                }
            ]
        },
    )

    name: Name
    unit: KpiUnit
    direction: Direction
    frequency: Frequency
    target: DecimalText
    baseline: DecimalText | None = None
    measure: Text | None = Field(None, description="How the value is measured.")


class KpiUpdate(Strict):
    """Change a KPI. Its direction and frequency are fixed (retire it and add another instead). A new
    target takes effect from `target_effective_from` (a period start; default: the current period)."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.KPI_UPDATE))

    name: Name | None = None
    unit: KpiUnit | None = None
    baseline: DecimalText | None = None
    measure: Text | None = None
    target: DecimalText | None = None
    target_effective_from: BoundedDate | None = None


class KpiRetire(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.KPI_RETIRE))

    reason: Text | None = None


class TargetPublic(BaseModel):
    effective_from: date = Field(
        description="The first period this target applies to (the KPI's first target: 2000-01-01, or the "
        "first Monday of 2000 for a weekly KPI, so it covers every period before the next change)."
    )
    target: str
    set_at: datetime
    set_by: str


class KpiPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.KPI))

    id: int
    post_id: int
    pcn_code: str
    name: str
    unit: str
    direction: Direction
    frequency: Frequency
    target: str = Field(description="The target in force for the current period.")
    targets: list[TargetPublic] = Field(description="Every target, by the period it applies from.")
    baseline: str | None
    measure: str | None
    status: KpiStatus
    retired_on: date | None
    retired_reason: str | None
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class KpiPage(Page[KpiPublic]):
    """A page of KPIs."""


class MeasurementIn(Strict):
    period_start: BoundedDate = Field(description="The period's first day: a Monday (weekly) or the 1st (monthly).")
    value: DecimalText


class MeasurementBatch(RootModel[Annotated[list[MeasurementIn], Field(min_length=1, max_length=500)]]):
    """Up to 500 measurements of one KPI, recorded together or not at all."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.MEASUREMENTS))


class MeasurementResult(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.MEASUREMENT_RESULT))

    received: int
    inserted: int = Field(description="Periods that had no value before.")
    replaced: int = Field(description="Periods whose value was replaced (the old one stays in the history).")


class MeasurementPublic(BaseModel):
    kpi_id: int
    period_start: date
    value: str
    recorded_at: datetime
    recorded_by: str


class MeasurementPage(Page[MeasurementPublic]):
    """A page of a KPI's current values, by period."""


class MeasurementHistoryPublic(BaseModel):
    kpi_id: int
    period_start: date
    value: str
    replaced: str | None = Field(description="The value this submission replaced, if any.")
    recorded_at: datetime
    recorded_by: str
    request_id: str | None


class MeasurementHistoryPage(Page[MeasurementHistoryPublic]):
    """A page of every value ever submitted for a KPI, oldest first."""
