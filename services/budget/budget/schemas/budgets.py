"""Bodies of funding rates, budgets and the ledger (domain §3, §5)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
)
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from budget.domain import money
from budget.schemas import examples
from budget.schemas.common import (
    Reason,
    Strict,
    Timestamp,
)

# Funding rates, budgets and the ledger.

Pot = TypeAliasType(
    "Pot",
    Annotated[
        Literal["arrs", "arrs_gp"],
        Field(
            title="Pot",
            description="A PCN budget's pot: `arrs`, or `arrs_gp`, the ring-fenced pot GP claims draw on in a "
            "year that has a GP rate.",
        ),
    ],
)


def _positive_rate(value: str) -> str:
    if money.rate_to_tenth_pence(value) <= 0:
        raise ValueError("a rate is more than 0")
    return value


RateStr = Annotated[
    str,
    Field(
        pattern=money.RATE_PATTERN,
        description="Pounds per weighted patient as a decimal string with up to 3 decimals, more than 0.",
        examples=["22.894"],
    ),
    AfterValidator(_positive_rate),
]
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
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.FUNDING_RATE))

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


class ListedBudget(BudgetPublic):
    """A PCN's budget as a list shows it: with the PCN's name, ICB and list size, so that a dashboard
    (or the gateway's ICB scorecard list) reads a page of an ICB's PCNs and their money in one call."""

    pcn_name: str
    icb_code: str
    list_size: int = Field(description="The PCN's registered list size (patients), as `GET /v1/pcns` gives it.")


class BudgetPage(Page[ListedBudget]):
    """A page of PCN budgets for one financial year, by PCN code: every PCN the client may see, one
    each, in the order and with the cursors of ``GET /v1/pcns``; a PCN with nothing posted that year has
    no pots."""


class PotSum(BaseModel):
    pot: str
    rate_per_weighted_patient: str
    sum_pence: int = Field(description="round_half_up(rate × weighted population), to the penny.")


class AllocateResult(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ALLOCATE_RESULT))

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
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ALLOCATION))

    posting: PostingPublic
    budget: BudgetPublic


class PotLapse(BaseModel):
    pot: str
    lapsed_pence: int = Field(description="What this close moved from `available` to `lapsed`.")


class YearClosePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.YEAR_CLOSE))

    pcn_code: str
    fy: str
    closed_at: Timestamp
    closed_by: str
    claim_window_ended_on: date = Field(description="The last day the year's claims could be made.")
    lapsed: list[PotLapse] = Field(description="What lapsed now, per pot (empty when nothing was available).")
    pots: list[PotBalance] = Field(
        description="The close report: per pot, what was allocated, held, approved, paid and lapsed, after the close."
    )


class PostingPage(Page[PostingPublic]):
    """A page of ledger postings, oldest first."""
