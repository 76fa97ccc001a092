"""Request and response bodies of the roles service (``XCreate``/``XUpdate``/``XPublic``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import BoundedDate, NoControlCharacters
from roles import examples, rules

# The contract's enums, each a named schema (one type per set of values in a generated client). Those the
# budget and evaluation services also answer (Geography, RateProvenance, CapUnit, Direction, Frequency)
# are defined there alike, name, values and words: the gateway's merge keeps one, and refuses two that differ.
Geography = TypeAliasType(
    "Geography",
    Annotated[
        rules.Geography,
        Field(
            title="Geography",
            description="Where a post works, which sets its maximum rate: `national`, `outer_london`, "
            "`inner_london`, or `london` (one rate for all of London, as the ARRS GP has).",
        ),
    ],
)
RateProvenance = TypeAliasType(
    "RateProvenance",
    Annotated[
        Literal["published", "estimated"],
        Field(
            title="RateProvenance",
            description="`published`: a figure from a cited source; `estimated`: derived (e.g. from the same "
            "band's published rate). A claim computed on an estimated rate says so.",
        ),
    ],
)
StaffGroup = TypeAliasType(
    "StaffGroup",
    Annotated[
        Literal["clinical", "clinical_support", "personalised_care", "non_clinical"],
        Field(title="StaffGroup", description="The staff group a role belongs to."),
    ],
)
SupervisionFrequency = TypeAliasType(
    "SupervisionFrequency",
    Annotated[
        Literal["weekly", "monthly", "quarterly", "as_agreed"],
        Field(title="SupervisionFrequency", description="How often the catalogue requires a role to be supervised."),
    ],
)
CapUnit = TypeAliasType(
    "CapUnit",
    Annotated[
        Literal["posts", "wte"],
        Field(
            title="CapUnit",
            description="What a role cap counts: `posts` (the posts active in the month) or `wte` "
            "(whole-time equivalents).",
        ),
    ],
)
Direction = TypeAliasType(
    "Direction",
    Annotated[
        Literal["higher_is_better", "lower_is_better"],
        Field(title="Direction", description="Whether a higher or a lower value of a KPI is better."),
    ],
)
Frequency = TypeAliasType(
    "Frequency",
    Annotated[
        Literal["weekly", "monthly"],
        Field(
            title="Frequency",
            description="How often a KPI is measured: weekly (periods start on a Monday) or monthly (on the 1st).",
        ),
    ],
)
SuggestedKpiUnit = TypeAliasType(
    "SuggestedKpiUnit",
    Annotated[
        Literal["count", "percent", "days", "minutes", "ratio"],
        Field(title="SuggestedKpiUnit", description="The unit of a KPI a role's job-plan template suggests."),
    ],
)
RatePeriodStatus = TypeAliasType(
    "RatePeriodStatus",
    Annotated[
        Literal["current", "superseded"],
        Field(
            title="RatePeriodStatus",
            description="`current`, or `superseded` by a period correcting it (kept, readable, as history).",
        ),
    ],
)

RoleCodeStr = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$", description="snake_case role code")]
ShareStr = Annotated[
    str,
    Field(
        pattern=r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$",
        description="A fraction as a decimal string, more than 0 and at most 1, e.g. `0.7`.",
        examples=["0.5"],
    ),
]
FyStr = Annotated[
    str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="Financial year `YYYY-YY`.", examples=["2024-25"])
]
Text = Annotated[str, Field(min_length=1, max_length=4000), NoControlCharacters]
ShortText = Annotated[str, Field(min_length=1, max_length=200), NoControlCharacters]
Band = Annotated[str, Field(min_length=1, max_length=120), NoControlCharacters]
Source = Annotated[str, Field(min_length=3, max_length=4000), NoControlCharacters]
OptionalText = Annotated[str, Field(max_length=4000), NoControlCharacters]
AFC_BAND_PATTERN = r"^([Bb][Aa][Nn][Dd] ?)?[1-9][a-dA-D]?$"
AfcBand = Annotated[str, Field(pattern=AFC_BAND_PATTERN, description="An AfC band: `4`, `7`, `8a`.")]

MAX_ANNUAL_PENCE = 100_000_000  # £1m per WTE per year: far above any ARRS maximum


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleBase(BaseModel):
    name: str
    afc_band: str | None = Field(
        None, description="Agenda for Change band as text, e.g. `7-8a`; null where none applies."
    )
    staff_group: StaffGroup
    registration: str | None = Field(None, description="Registration body (GPhC, HCPC, NMC, GMC) or null.")
    added_on: date = Field(description="First day the role was claimable.")
    retired_on: date | None = Field(None, description="Last day the role was claimable; null while claimable.")
    description: str
    supplier_fee_monthly_max_pence: int | None = Field(
        None,
        description="Most a supplier fee may add per WTE per month (SPLW bought from a supplier); null otherwise.",
    )


class RoleSummary(RoleBase):
    code: str


class RoleCreate(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ROLE_CREATE))

    code: RoleCodeStr
    name: ShortText
    afc_band: Band | None = None
    staff_group: StaffGroup
    registration: Band | None = None
    added_on: BoundedDate
    retired_on: BoundedDate | None = None
    description: Text
    supplier_fee_monthly_max_pence: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class RoleUpdate(Strict):
    """Fields to change; absent fields stay as they are. ``retired_on: null`` un-retires."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ROLE_UPDATE))

    name: ShortText | None = None
    afc_band: Band | None = None
    staff_group: StaffGroup | None = None
    registration: Band | None = None
    retired_on: BoundedDate | None = None
    description: Text | None = None
    supplier_fee_monthly_max_pence: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None


class RatePeriodCreate(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.RATE_PERIOD_CREATE))

    geography: Geography
    afc_band: AfcBand | None = Field(
        None,
        description="For a banded role (mental health and advanced practitioners), the AfC band the maximum "
        "is for, e.g. `7` or `8a`; null for every other role.",
        examples=["7"],
    )
    effective_from: BoundedDate = Field(description="First day the maximum applies (uplifts start on the 1st).")
    annual_max_pence: Annotated[StrictInt, Field(ge=1, le=MAX_ANNUAL_PENCE)] = Field(
        description="Maximum reimbursable per WTE per year, salary plus employer on-costs, in pence."
    )
    provenance: RateProvenance
    source: Source = Field(description="Where the figure comes from: a document title or URL.")
    basis: OptionalText | None = Field(None, description="For an estimated figure, how it was derived.")
    note: OptionalText | None = None
    supersedes_id: Annotated[StrictInt, Field(ge=1)] | None = Field(
        None,
        description="The period this one corrects (same role, geography and band). The old period stays readable "
        "as history.",
    )

    @field_validator("afc_band")
    @classmethod
    def _band(cls, value: str | None) -> str | None:
        return rules.normalise_band(value) if value is not None else None


class RatePeriodPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.RATE_PERIOD))

    id: int
    role_code: str
    geography: Geography
    afc_band: str | None = Field(description="The AfC band of a banded role's period; null otherwise.")
    effective_from: date
    effective_to: date | None = Field(
        description="Last day in force (the day before the next current period), null if open or superseded."
    )
    annual_max_pence: int
    provenance: RateProvenance
    source: str
    basis: str | None
    note: str | None
    status: RatePeriodStatus
    supersedes_id: int | None
    superseded_by_id: int | None
    created_at: datetime
    created_by: str


class RateInForce(BaseModel):
    role_code: str
    role_name: str
    geography: Geography
    afc_band: str | None = Field(description="The AfC band of a banded role's rate; null otherwise.")
    effective_from: date
    annual_max_pence: int
    provenance: RateProvenance
    rate_period_id: int


class RateGap(BaseModel):
    role_code: str
    role_name: str
    geography: Geography
    afc_band: str | None = Field(description="For a banded role, the AfC band with no rate; null otherwise.")
    month: str = Field(description="A claim month `YYYY-MM` with no rate in force on its first day.")


class FundingShareCreate(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.FUNDING_SHARE_CREATE))

    effective_from: BoundedDate
    share: ShareStr
    max_share: ShareStr | None = Field(
        None, description="Highest share a post may be marked with (MHPs with a written agreement)."
    )
    rule: Text
    source: Source

    @field_validator("share", "max_share")
    @classmethod
    def _exact(cls, value: str | None) -> str | None:
        if value is not None:
            rules.share_to_bp(value)
        return value


class FundingSharePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.FUNDING_SHARE))

    effective_from: date
    share: str = Field(description="Decimal string, e.g. `0.7`.")
    max_share: str | None
    rule: str
    source: str


class CapUpsert(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CAP_UPSERT))

    unit: CapUnit = Field(description="`posts`: headcount of posts active in the month; `wte`: whole-time equivalents.")
    max_below_threshold: Annotated[StrictInt, Field(ge=0, le=10_000)]
    max_at_or_above_threshold: Annotated[StrictInt, Field(ge=0, le=10_000)]
    list_size_threshold: Annotated[StrictInt, Field(ge=1, le=10_000_000)] = 100_000
    source: Source


class CapPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CAP))

    fy: str
    unit: CapUnit
    max_below_threshold: int
    max_at_or_above_threshold: int
    list_size_threshold: int
    source: str


class SupervisionUpsert(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.SUPERVISION_UPSERT))

    supervisor_roles: Annotated[list[ShortText], Field(min_length=1, max_length=20)]
    frequency: SupervisionFrequency
    requirement: Text
    source: Source


class SupervisionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.SUPERVISION))

    supervisor_roles: list[str]
    frequency: SupervisionFrequency
    requirement: str
    source: str


class KpiSuggestion(Strict):
    name: ShortText
    unit: SuggestedKpiUnit
    direction: Direction
    frequency: Frequency
    suggested_target: Annotated[StrictFloat, Field(ge=0, le=1_000_000)] | None = Field(
        None, description="A local starting point, not a national target; null where none is defensible."
    )
    measure: Text


class JobPlanTemplateUpsert(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.JOB_PLAN_TEMPLATE_UPSERT))

    purpose: Text
    responsibilities: Annotated[list[Text], Field(min_length=1, max_length=30)]
    sessions_per_week_hint: Annotated[StrictInt, Field(ge=1, le=12)] | None = None
    suggested_kpis: Annotated[list[KpiSuggestion], Field(min_length=1, max_length=20)]


class JobPlanTemplatePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.JOB_PLAN_TEMPLATE))

    role_code: str
    purpose: str
    responsibilities: list[str]
    sessions_per_week_hint: int | None
    suggested_kpis: list[KpiSuggestion]
    supervision: SupervisionPublic | None


class RoleDetail(RoleSummary):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ROLE))

    rate_periods: list[RatePeriodPublic] = Field(description="Every period, current and superseded, oldest first.")
    funding_shares: list[FundingSharePublic]
    caps: list[CapPublic]
    supervision: SupervisionPublic | None


class RolePage(Page[RoleSummary]):
    """A page of roles."""


class RateGapPage(Page[RateGap]):
    fy: str


class RatePage(Page[RateInForce]):
    """A page of rates in force."""


RateImportOutcome = TypeAliasType(
    "RateImportOutcome",
    Annotated[
        Literal["created", "superseded", "unchanged"],
        Field(title="RateImportOutcome", description="What importing one row of a rate table did."),
    ],
)


class RateImportPeriod(BaseModel):
    row: int = Field(description="The data row of the file, 1-based (the header is row 0; blank lines are skipped).")
    outcome: RateImportOutcome = Field(
        description="`created`: a new period; `superseded`: a new period correcting a current estimate with "
        "another amount; `unchanged`: a current period already holds this amount (or an earlier row of the "
        "file gives the same key and amount)."
    )
    rate_period_id: int = Field(description="The current period holding the row's rate after the import.")
    supersedes_id: int | None = Field(description="For `superseded`, the estimate the new period replaces.")


class RateImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.RATE_IMPORT_RESULT))

    rows: int = Field(description="Data rows read.")
    created: int
    superseded: int
    unchanged: int
    periods: list[RateImportPeriod] = Field(description="One entry per data row, in file order.")
