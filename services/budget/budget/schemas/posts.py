"""Bodies of posts (domain §6)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import BoundedDate, NoControlCharacters
from budget.domain import hours
from budget.schemas import examples
from budget.schemas.common import (
    Geography,
    Name,
    PcnCode,
    PracticeCode,
    Strict,
    Timestamp,
    refuse_duplicates,
)

# Posts (domain §6).

ROLE_CODE_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
EMPLOYER_CODE_PATTERN = r"^[A-Za-z0-9]{3,9}$"
HOURS_PATTERN = r"^[0-9]{1,2}(\.[0-9]{1,2})?$"

EmploymentModel = TypeAliasType(
    "EmploymentModel",
    Annotated[
        Literal[
            "pcn_lead_practice",
            "member_practice",
            "nhs_trust",
            "federation",
            "local_authority",
            "voluntary_sector",
            "supplier",
        ],
        Field(title="EmploymentModel", description="Who employs the post's holder for the PCN."),
    ],
)
RoleCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=ROLE_CODE_PATTERN,
        description="A role code of the catalogue (snake_case).",
        examples=["clinical_pharmacist"],
    ),
]
EmployerCode = Annotated[
    str,
    Field(pattern=EMPLOYER_CODE_PATTERN, description="The employer's ODS code, 3 to 9 letters or digits (any case)."),
    AfterValidator(str.upper),
]
ShortText = Annotated[str, Field(min_length=1, max_length=32), NoControlCharacters]


def _hours_in_range(value: str) -> str:
    if not 0 < hours.hours_to_centi(value) <= hours.MAX_HOURS_CENTI:
        raise ValueError("hours_per_week is more than 0 and at most 48")
    return value


HoursStr = Annotated[
    str,
    Field(
        pattern=HOURS_PATTERN,
        description="Contracted hours a week as a decimal string with up to 2 decimals, more than 0, at most 48.",
        examples=["22.5"],
    ),
    AfterValidator(_hours_in_range),
]
FundingShare = Annotated[
    str,
    Field(
        pattern=r"^(0\.[0-9]{0,3}[1-9]|1\.0)$",
        description="A share more than 0 and at most 1, up to 4 decimals (`0.7` for a 70/30 split), or `1.0`.",
        examples=["0.7"],
    ),
]
AfcBand = Annotated[
    ShortText | None,
    Field(description="The post's AfC band as text (`7`, `8a`); null only where none applies, as for a GP."),
]
PostPracticeCodes = Annotated[
    list[PracticeCode],
    Field(
        min_length=1,
        max_length=100,
        description="The practices the post serves: current members of the post's PCN, each at most once.",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(refuse_duplicates),
]
CostPence = Annotated[StrictInt, Field(ge=0, le=100_000_000, description="Whole pence a month, at least 0.")]


class Supervisor(Strict):
    name: Name
    role: Name


class UnfundedCosts(Strict):
    """Monthly costs the PCN carries that the scheme does not reimburse, in whole pence."""

    management_fee: CostPence = 0
    vat: CostPence = 0
    supervision: CostPence = 0
    training: CostPence = 0
    estates: CostPence = 0
    other: CostPence = 0


POST_EXAMPLE: dict[str, Any] = {
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "22.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A81001",
    "practice_codes": ["A81001", "A81002"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Clinical pharmacist 1",
}


class PostCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [POST_EXAMPLE]})

    pcn_code: PcnCode
    role_code: RoleCode
    afc_band: AfcBand
    geography: Geography
    hours_per_week: HoursStr
    start_date: BoundedDate
    leave_date: BoundedDate | None = Field(None, description="Last day in post; null while in post.")
    employment_model: EmploymentModel
    employer_code: EmployerCode
    practice_codes: PostPracticeCodes
    supervisor: Supervisor
    baseline: StrictBool = Field(description="In the 31 March 2019 baseline (not claimable).")
    funding_share: FundingShare | None = Field(
        None,
        description="Mental health practitioner posts only: the share the PCN and the provider agreed (up to "
        "the catalogue's maximum). The PCN's first MHP is always funded at the catalogue's share (0.5).",
    )
    staff_reference: Name | None = Field(None, description="An opaque reference to the person in the employer's HR.")
    display_name: Name
    unfunded_costs_monthly_pence: UnfundedCosts = Field(default_factory=UnfundedCosts)


class PostUpdate(Strict):
    """Fields to change; absent fields stay as they are. ``pcn_code`` and ``role_code`` never change
    (a new role or PCN is a new post). ``leave_date``, ``funding_share``, ``staff_reference`` and (where no
    AfC band applies) ``afc_band`` may be set to null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"leave_date": "2025-03-31"}]})

    afc_band: AfcBand = None
    geography: Geography | None = None
    hours_per_week: HoursStr | None = None
    start_date: BoundedDate | None = None
    leave_date: BoundedDate | None = None
    employment_model: EmploymentModel | None = None
    employer_code: EmployerCode | None = None
    practice_codes: PostPracticeCodes | None = None
    supervisor: Supervisor | None = None
    baseline: StrictBool | None = None
    funding_share: FundingShare | None = None
    staff_reference: Name | None = None
    display_name: Name | None = None
    unfunded_costs_monthly_pence: UnfundedCosts | None = None

    @model_validator(mode="after")
    def _not_null(self) -> PostUpdate:
        nullable = {"leave_date", "funding_share", "staff_reference", "afc_band"}
        for field in self.model_fields_set - nullable:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it")
        return self


TERM_FIELDS = ("hours_per_week", "afc_band", "geography", "employment_model", "employer_code", "practice_codes")
"""A post's dated terms (domain §6): changed only by a new set (``POST /v1/posts/{id}/terms``)."""


class PostTermsCreate(Strict):
    """A new set of a post's terms from ``effective_from``; a field left out keeps its value in the
    set in force the day before."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"effective_from": "2024-10-16", "hours_per_week": "30", "reason": "reduced hours"}]
        },
    )

    effective_from: BoundedDate = Field(description="First day of the new terms, within the post's dates.")
    hours_per_week: HoursStr | None = None
    afc_band: AfcBand = None
    geography: Geography | None = None
    employment_model: EmploymentModel | None = None
    employer_code: EmployerCode | None = None
    practice_codes: PostPracticeCodes | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500), NoControlCharacters] | None = None

    @model_validator(mode="after")
    def _something(self) -> PostTermsCreate:
        given = self.model_fields_set & set(TERM_FIELDS)
        if not given:
            raise ValueError(f"give at least one of {', '.join(TERM_FIELDS)}")
        for field in given - {"afc_band"}:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it")
        return self


class PostTermsPublic(BaseModel):
    effective_from: date
    effective_to: date | None = Field(description="The day before the next set; null for the latest.")
    hours_per_week: str
    wte: str
    afc_band: str | None
    geography: str
    employment_model: str
    employer_code: str
    practice_codes: list[str]
    reason: str | None
    created_at: Timestamp
    created_by: str


class PostPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.POST))

    id: int
    pcn_code: str
    role_code: str
    afc_band: str | None
    geography: str
    hours_per_week: str = Field(description="Two decimals, exact, e.g. `22.50`.")
    wte: str = Field(description="hours_per_week ÷ 37.5, to 4 decimals (display only; claims compute exactly).")
    start_date: date
    leave_date: date | None
    employment_model: str
    employer_code: str
    practice_codes: list[str]
    supervisor: Supervisor
    baseline: bool
    funding_share: str | None
    staff_reference: str | None
    display_name: str
    unfunded_costs_monthly_pence: UnfundedCosts
    terms: list[PostTermsPublic] = Field(
        description="Every set of the post's terms, oldest first; the fields above show the latest."
    )
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class PostPage(Page[PostPublic]):
    """A page of posts."""
