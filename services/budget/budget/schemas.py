"""Request and response bodies of the budget service (``XCreate``/``XUpdate``/``XPublic``).

Codes are accepted in any case and answered upper-case (domain §2).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from arrs_kit.pagination import Page
from arrs_kit.types import BoundedDate, NoControlCharacters
from budget import rules

ICB_CODE_PATTERN = r"^[A-Za-z0-9]{3}$"
PCN_CODE_PATTERN = r"^[Uu][0-9]{5}$"
PRACTICE_CODE_PATTERN = r"^[A-Za-z][0-9]{5}$"

IcbCode = Annotated[
    str,
    Field(pattern=ICB_CODE_PATTERN, description="ICB ODS code, 3 letters or digits (any case).", examples=["QHM"]),
    AfterValidator(str.upper),
]
PcnCode = Annotated[
    str,
    Field(pattern=PCN_CODE_PATTERN, description="PCN code, `U` and 5 digits (any case).", examples=["U12345"]),
    AfterValidator(str.upper),
]
PracticeCode = Annotated[
    str,
    Field(
        pattern=PRACTICE_CODE_PATTERN,
        description="GP practice ODS code, a letter and 5 digits (any case).",
        examples=["A81001"],
    ),
    AfterValidator(str.upper),
]
Name = Annotated[str, Field(min_length=1, max_length=200), NoControlCharacters]
ListSize = Annotated[StrictInt, Field(ge=0, le=10_000_000, description="Registered list size (patients).")]


def _refuse_duplicates(codes: list[str]) -> list[str]:
    if len(set(codes)) != len(codes):
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        raise ValueError(f"practice_codes repeats {', '.join(repeated)}")
    return codes


PracticeCodes = Annotated[
    list[PracticeCode],
    Field(
        min_length=1,
        max_length=100,
        description="The member practices; each at most once.",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_refuse_duplicates),
]
WeightedPopulationStr = Annotated[
    str,
    Field(
        pattern=rules.POPULATION_PATTERN,
        description="A weighted population as a decimal string with up to 3 decimals, more than 0.",
        examples=["10234.567"],
    ),
]
EffectiveDate = Annotated[
    BoundedDate,
    Field(
        description="The day the membership change takes effect (removed practices leave the day before); "
        "default today in England; never in the future."
    ),
]


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp is stored in UTC, so say so on output.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IcbCreate(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "QHM", "name": "North East and North Cumbria"}]}
    )

    code: IcbCode
    name: Name


class IcbPublic(BaseModel):
    code: str
    name: str
    created_at: Timestamp
    created_by: str


class PcnCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "U12345",
                    "name": "Riverside PCN",
                    "icb_code": "QHM",
                    "practice_codes": ["A81001", "A81002"],
                    "list_size": 52000,
                }
            ]
        },
    )

    code: PcnCode
    name: Name
    icb_code: IcbCode
    practice_codes: PracticeCodes
    list_size: ListSize
    effective_date: EffectiveDate | None = None


class PcnUpdate(Strict):
    """Fields to change; absent fields stay as they are. A new ``practice_codes`` list closes the
    memberships of practices left out as of ``effective_date`` and opens memberships for new ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"practice_codes": ["A81001", "A81002", "A81007"], "effective_date": "2025-04-01"}]
        },
    )

    name: Name | None = None
    list_size: ListSize | None = None
    practice_codes: PracticeCodes | None = None
    effective_date: EffectiveDate | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PcnUpdate:
        for field in ("name", "list_size", "practice_codes"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it")
        if self.effective_date is not None and self.practice_codes is None:
            raise ValueError("effective_date goes with a new practice_codes list")
        return self


class CurrentPractice(BaseModel):
    practice_code: str
    valid_from: date


class PcnMembership(BaseModel):
    """One practice's membership of this PCN, current (``valid_to`` null) or ended."""

    practice_code: str
    valid_from: date
    valid_to: date | None = Field(description="Last day of membership (inclusive); null while current.")
    opened_by: str
    closed_by: str | None


class WeightedPopulationPut(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"weighted_population": "51234.567", "reference_date": "2024-01-01"}]},
    )

    weighted_population: WeightedPopulationStr
    reference_date: BoundedDate = Field(description="1 January before the financial year starts.")

    @field_validator("weighted_population")
    @classmethod
    def _positive(cls, value: str) -> str:
        if rules.population_to_milli(value) <= 0:
            raise ValueError("a weighted population is more than 0")
        return value


class ReplacedWeightedPopulation(BaseModel):
    weighted_population: str
    reference_date: date
    set_at: Timestamp
    set_by: str
    replaced_at: Timestamp
    replaced_by: str


class WeightedPopulationPublic(BaseModel):
    pcn_code: str
    fy: str
    weighted_population: str = Field(description="Decimal string with three decimals, e.g. `10234.567`.")
    reference_date: date
    set_at: Timestamp
    set_by: str
    history: list[ReplacedWeightedPopulation] = Field(description="Values this one replaced, oldest first.")


class PcnSummary(BaseModel):
    code: str
    name: str
    icb_code: str
    icb_name: str
    list_size: int
    practice_codes: list[str] = Field(description="Current member practices.")
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class PcnDetail(PcnSummary):
    practices: list[CurrentPractice] = Field(description="Current member practices with the day each joined.")
    membership_history: list[PcnMembership] = Field(description="Every membership of this PCN, oldest first.")
    weighted_populations: list[WeightedPopulationPublic] = Field(description="By financial year, oldest first.")


class PracticeMembershipPublic(BaseModel):
    pcn_code: str
    icb_code: str
    valid_from: date
    valid_to: date | None


class PracticePublic(BaseModel):
    practice_code: str
    pcn_code: str | None = Field(description="The PCN the practice belongs to now; null if it has left every PCN.")
    icb_code: str | None
    history: list[PracticeMembershipPublic] = Field(description="Every PCN the practice has belonged to, oldest first.")


class IcbPage(Page[IcbPublic]):
    """A page of ICBs."""


class PcnPage(Page[PcnSummary]):
    """A page of PCNs."""


# Funding rates, budgets and the ledger.

Pot = Literal["arrs", "arrs_gp"]


def _positive_rate(value: str) -> str:
    if rules.rate_to_tenth_pence(value) <= 0:
        raise ValueError("a rate is more than 0")
    return value


RateStr = Annotated[
    str,
    Field(
        pattern=rules.RATE_PATTERN,
        description="Pounds per weighted patient as a decimal string with up to 3 decimals, more than 0.",
        examples=["22.894"],
    ),
    AfterValidator(_positive_rate),
]
Reason = Annotated[str, Field(min_length=1, max_length=500), NoControlCharacters]
MAX_ALLOCATION_PENCE = 100_000_000_000  # £1bn: far above any PCN's budget, far below BigInteger's limit


class FundingRatePut(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"arrs_per_weighted_patient": "22.894", "arrs_gp_per_weighted_patient": "1.303"}]
        },
    )

    arrs_per_weighted_patient: RateStr
    arrs_gp_per_weighted_patient: RateStr | None = Field(
        None, description="The ring-fenced GP rate (2024-25 only so far); null or absent where there is none."
    )


class FundingRatePublic(BaseModel):
    fy: str
    arrs_per_weighted_patient: str = Field(description="Pounds per weighted patient, three decimals.")
    arrs_gp_per_weighted_patient: str | None
    source: str | None
    updated_at: Timestamp
    updated_by: str


class FundingRatePage(Page[FundingRatePublic]):
    """A page of funding rates."""


class PotBalance(BaseModel):
    pot: str
    allocated_pence: int
    held_pence: int
    approved_pence: int
    paid_pence: int
    lapsed_pence: int = Field(description="Moved out of `available` when the financial year closed.")
    available_pence: int = Field(description="allocated − held − approved − paid − lapsed; never negative.")


class BudgetPublic(BaseModel):
    pcn_code: str
    fy: str
    pots: list[PotBalance] = Field(description="One per pot anything has been posted to, by pot.")


class BudgetPage(Page[BudgetPublic]):
    """A page of PCN budgets for one financial year, by PCN code."""


class PotSum(BaseModel):
    pot: str
    rate_per_weighted_patient: str
    sum_pence: int = Field(description="round_half_up(rate × weighted population), to the penny.")


class AllocateResult(BaseModel):
    pcn_code: str
    fy: str
    weighted_population: str
    reference_date: date
    sums: list[PotSum] = Field(description="The formula sum of each pot this financial year has a rate for.")
    pots: list[PotBalance]


class AllocationCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"pot": "arrs", "amount_pence": 2_500_000, "reason": "Agreed top-up"}]},
    )

    pot: Pot
    amount_pence: StrictInt = Field(
        ge=-MAX_ALLOCATION_PENCE,
        le=MAX_ALLOCATION_PENCE,
        description="A top-up (positive) or a reduction (negative, at most what is available); never 0.",
    )
    reason: Reason

    @field_validator("amount_pence")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an allocation moves money: amount_pence is not 0")
        return value


class PostingPublic(BaseModel):
    id: int
    pcn_code: str
    fy: str
    pot: str
    debit_account: str = Field(description="The account the amount leaves.")
    credit_account: str = Field(description="The account the amount enters.")
    amount_pence: int
    kind: str
    reason: str
    reference: str | None
    request_id: str | None
    created_at: Timestamp
    created_by: str


class AllocationPublic(BaseModel):
    posting: PostingPublic
    budget: BudgetPublic


class PotLapse(BaseModel):
    pot: str
    lapsed_pence: int = Field(description="What this close moved from `available` to `lapsed`.")


class YearClosePublic(BaseModel):
    pcn_code: str
    fy: str
    lapsed: list[PotLapse] = Field(description="What lapsed now, per pot (empty when nothing was available).")
    pots: list[PotBalance] = Field(description="The pots after the close.")


class PostingPage(Page[PostingPublic]):
    """A page of ledger postings, oldest first."""


# Posts (domain §6).

ROLE_CODE_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
EMPLOYER_CODE_PATTERN = r"^[A-Za-z0-9]{3,9}$"
HOURS_PATTERN = r"^[0-9]{1,2}(\.[0-9]{1,2})?$"

Geography = Literal["national", "outer_london", "inner_london", "london"]
EmploymentModel = Literal[
    "pcn_lead_practice",
    "member_practice",
    "nhs_trust",
    "federation",
    "local_authority",
    "voluntary_sector",
    "supplier",
]
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
    if not 0 < rules.hours_to_centi(value) <= rules.MAX_HOURS_CENTI:
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
FundingShare = Literal["0.5", "1.0"]
PostPracticeCodes = Annotated[
    list[PracticeCode],
    Field(
        min_length=1,
        max_length=100,
        description="The practices the post serves: current members of the post's PCN, each at most once.",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_refuse_duplicates),
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
    afc_band: ShortText
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
        None, description="Mental health practitioner posts only: the share the scheme funds."
    )
    staff_reference: Name | None = Field(None, description="An opaque reference to the person in the employer's HR.")
    display_name: Name
    unfunded_costs_monthly_pence: UnfundedCosts = Field(default_factory=UnfundedCosts)


class PostUpdate(Strict):
    """Fields to change; absent fields stay as they are. ``pcn_code`` and ``role_code`` never change
    (a new role or PCN is a new post). ``leave_date``, ``funding_share`` and ``staff_reference`` may be
    set to null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"leave_date": "2025-03-31"}]})

    afc_band: ShortText | None = None
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
        nullable = {"leave_date", "funding_share", "staff_reference"}
        for field in self.model_fields_set - nullable:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave it out to keep it")
        return self


class PostPublic(BaseModel):
    id: int
    pcn_code: str
    role_code: str
    afc_band: str
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
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class PostPage(Page[PostPublic]):
    """A page of posts."""


# Claims (domain §6)

CLAIM_MONTH_PATTERN = r"^(20[0-9]{2})-(0[1-9]|1[0-2])$"
ClaimMonth = Annotated[
    str, Field(pattern=CLAIM_MONTH_PATTERN, description="The claim month, `YYYY-MM`.", examples=["2024-10"])
]
ClaimPence = Annotated[StrictInt, Field(ge=0, le=100_000_000, description="Whole pence for the month, at least 0.")]
ClaimStatus = Literal["draft", "submitted", "approved", "rejected", "paid", "withdrawn"]


class ClaimInput(Strict):
    """What the PCN paid for the post in the month."""

    salary_pence: ClaimPence
    employer_ni_pence: ClaimPence
    employer_pension_pence: ClaimPence
    supplier_fee_pence: ClaimPence = Field(
        0, description="Only for a social prescribing link worker bought from a supplier; any other post: 422."
    )


class ClaimCreate(ClaimInput):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "post_id": 1,
                    "month": "2024-10",
                    "salary_pence": 450_000,
                    "employer_ni_pence": 52_000,
                    "employer_pension_pence": 65_000,
                    "supplier_fee_pence": 0,
                }
            ]
        },
    )

    post_id: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
    month: ClaimMonth


class ClaimUpdate(Strict):
    """A draft's amounts; fields left out keep their value."""

    salary_pence: ClaimPence | None = None
    employer_ni_pence: ClaimPence | None = None
    employer_pension_pence: ClaimPence | None = None
    supplier_fee_pence: ClaimPence | None = None


class ClaimReject(Strict):
    reason: Reason


class ClaimPay(Strict):
    payment_reference: Annotated[
        str,
        Field(min_length=1, max_length=200, description="The payment's reference in the ICB's ledger."),
        NoControlCharacters,
    ]


class ClaimWithdraw(Strict):
    reason: Reason | None = None


class AdjustmentCreate(ClaimInput):
    """The corrected amounts of a paid claim and why; the adjustment is the difference it makes."""

    reason: Reason


class RatePeriodUsed(BaseModel):
    id: int = Field(description="The rate period's id in the roles service.")
    effective_from: date
    annual_max_pence: int
    geography: str
    provenance: Literal["published", "estimated"]
    source: str


class ClaimEventPublic(BaseModel):
    status: ClaimStatus
    action: str = Field(description="`create`, `edit`, `submit`, `approve`, `reject`, `pay` or `withdraw`.")
    at: Timestamp
    by: str
    reason: str | None


class ClaimComputationPublic(BaseModel):
    """A claim computed but not stored (``POST /v1/claims/preview``)."""

    post_id: int
    pcn_code: str
    role_code: str
    month: str
    fy: str
    pot: str
    salary_pence: int
    employer_ni_pence: int
    employer_pension_pence: int
    supplier_fee_pence: int
    days_in_post: int
    days_in_month: int
    hours_per_week: str
    wte: str = Field(description="hours_per_week ÷ 37.5, exact as a decimal string to 6 places.")
    cap_pence: int = Field(description="annual maximum × wte × days_in_post ÷ days_in_month ÷ 12, rounded half up.")
    fee_allowed_pence: int
    actual_pence: int
    funding_share: str
    reimbursable_pence: int
    rate_period: RatePeriodUsed
    estimated_rate: bool = Field(description="True when the rate period is an estimate, not a published figure.")


class ClaimPreview(ClaimComputationPublic):
    available_pence: int = Field(description="What the pot has available now.")
    fits_budget: bool = Field(
        description="Always true in this 200 answer: a claim that would not fit the pot now is answered "
        "409 `budget-exceeded` (with `available_pence`) instead."
    )


class ClaimPublic(ClaimComputationPublic):
    id: int
    kind: Literal["claim", "adjustment"]
    adjusts_claim_id: int | None
    amount_pence: int = Field(
        description="What the claim moves on the ledger: reimbursable_pence, or for an adjustment the signed "
        "difference it makes to the claim it corrects."
    )
    status: ClaimStatus
    payment_reference: str | None
    history: list[ClaimEventPublic]
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class ClaimPage(Page[ClaimPublic]):
    """A page of claims."""
