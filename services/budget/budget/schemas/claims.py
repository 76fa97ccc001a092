"""Bodies of claims (domain §6): inputs, the computation, the claim and its history."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictInt,
)
from pydantic_core import core_schema
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import NoControlCharacters
from budget.domain.claim_states import ClaimKind, ClaimStatus
from budget.schemas import examples
from budget.schemas.common import (
    RateProvenance,
    Reason,
    Strict,
    Timestamp,
)

# Claims (domain §6)

CLAIM_MONTH_PATTERN = r"^(20[0-9]{2})-(0[1-9]|1[0-2])$"
ClaimMonth = Annotated[
    str, Field(pattern=CLAIM_MONTH_PATTERN, description="The claim month, `YYYY-MM`.", examples=["2024-10"])
]
ClaimPence = Annotated[StrictInt, Field(ge=0, le=100_000_000, description="Whole pence for the month, at least 0.")]


class _Values:
    """An enum's values, validated into the enum (each named in the contract by the alias around it)."""

    def __init__(self, enum: type[StrEnum]) -> None:
        self.enum = enum

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        values = core_schema.literal_schema([member.value for member in self.enum])
        return core_schema.no_info_after_validator_function(self.enum, values)


if TYPE_CHECKING:
    StatusField = ClaimStatus
    KindField = ClaimKind
else:
    # Annotated on ``str``, not on the enum: FastAPI would otherwise add the enum to the contract as a
    # component that nothing refers to. The value validated is still the enum's member.
    StatusField = TypeAliasType(
        "ClaimStatus",
        Annotated[
            str,
            _Values(ClaimStatus),
            Field(
                title="ClaimStatus",
                description="Where a claim is in its life: a `draft` is `submitted` (or `withdrawn`), then "
                "`approved` or `rejected` by the ICB; an approved claim is `paid`.",
            ),
        ],
    )
    KindField = TypeAliasType(
        "ClaimKind",
        Annotated[
            str,
            _Values(ClaimKind),
            Field(title="ClaimKind", description="A monthly `claim`, or an `adjustment` of a paid one."),
        ],
    )


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

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM_UPDATE))

    salary_pence: ClaimPence | None = None
    employer_ni_pence: ClaimPence | None = None
    employer_pension_pence: ClaimPence | None = None
    supplier_fee_pence: ClaimPence | None = None


class ClaimReject(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM_REJECT))

    reason: Reason


class ClaimPay(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM_PAY))

    payment_reference: Annotated[
        str,
        Field(min_length=1, max_length=200, description="The payment's reference in the ICB's ledger."),
        NoControlCharacters,
    ]


class ClaimWithdraw(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM_WITHDRAW))

    reason: Reason | None = None


class AdjustmentCreate(ClaimInput):
    """The corrected amounts of a paid claim and why; the adjustment is the difference it makes."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ADJUSTMENT_CREATE))

    reason: Reason


class RatePeriodUsed(BaseModel):
    id: int = Field(description="The rate period's id in the roles service.")
    effective_from: date
    annual_max_pence: int
    geography: str
    provenance: RateProvenance
    source: str


class ClaimSegment(BaseModel):
    """The part of the claim month under one set of the post's terms (domain §6)."""

    first_day: date
    last_day: date
    days: int = Field(description="Days of the segment inside the post's dates.")
    hours_per_week: str
    wte: str
    geography: str
    afc_band: str | None
    cap_pence: int = Field(
        description="This segment's cap, annual maximum × wte × days ÷ days_in_month ÷ 12, rounded half up for "
        "display: the claim's cap_pence is the exact sum of the segments, rounded once."
    )
    rate_period: RatePeriodUsed


class ClaimEventPublic(BaseModel):
    status: StatusField
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
    segments: list[ClaimSegment] = Field(
        description="One per set of the post's terms that meets the month, in order (one when the terms did not "
        "change in the month)."
    )
    estimated_rate: bool = Field(description="True when the rate period is an estimate, not a published figure.")


class ClaimPreview(ClaimComputationPublic):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM_PREVIEW))

    available_pence: int = Field(description="What the pot has available now.")
    fits_budget: bool = Field(
        description="Always true in this 200 answer: a claim that would not fit the pot now is answered "
        "409 `budget-exceeded` (with `available_pence`) instead."
    )


class ClaimPublic(ClaimComputationPublic):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM))

    id: int
    kind: KindField
    adjusts_claim_id: int | None
    amount_pence: int = Field(
        description="What the claim moves on the ledger: reimbursable_pence, or for an adjustment the signed "
        "difference it makes to the claim it corrects."
    )
    status: StatusField
    payment_reference: str | None
    history: list[ClaimEventPublic]
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class ClaimPage(Page[ClaimPublic]):
    """A page of claims."""
