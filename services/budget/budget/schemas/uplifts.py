"""Bodies of rate uplifts applied to paid claims (domain §6)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from budget.schemas import examples
from budget.schemas.claims import RatePeriodUsed
from budget.schemas.common import Reason, Strict


def _distinct(ids: list[int]) -> list[int]:
    if len(set(ids)) != len(ids):
        raise ValueError("each post at most once")
    return ids


class UpliftCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"rate_period_id": 412, "post_ids": [7, 9], "apply": False, "reason": "Uplift backdated"}]
        },
    )

    rate_period_id: Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(
        description="The superseding rate period in the roles service (it names the period it corrects)."
    )
    post_ids: Annotated[
        list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
        Field(min_length=1, max_length=500, json_schema_extra={"uniqueItems": True}),
        AfterValidator(_distinct),
    ] = Field(description="The posts the PCN confirms the uplift was passed on to.")
    apply: StrictBool = Field(
        False, description="false: preview, nothing written; true: create one adjustment per affected claim."
    )
    reason: Reason | None = None


class UpliftComputation(BaseModel):
    rate_period: RatePeriodUsed
    cap_pence: int
    reimbursable_pence: int


UpliftOutcome = TypeAliasType(
    "UpliftOutcome",
    Annotated[
        Literal["adjust", "adjusted", "no-difference", "adjustment-pending"],
        Field(title="UpliftOutcome", description="What an uplift does (or did) to one paid claim."),
    ],
)


class UpliftLine(BaseModel):
    claim_id: int
    post_id: int
    month: str
    outcome: UpliftOutcome = Field(
        description="`adjust` (a preview) or `adjusted` (applied: `adjustment_id`); `no-difference` when the "
        "claim already comes to the new amount; `adjustment-pending` while another adjustment awaits a decision."
    )
    before: UpliftComputation = Field(description="The claim as it was paid (with its adjustments so far).")
    after: UpliftComputation = Field(description="The claim on the superseding rate period.")
    difference_pence: int
    adjustment_id: int | None


class UpliftPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.UPLIFT))

    pcn_code: str
    fy: str
    rate_period: RatePeriodUsed
    supersedes_id: int
    applied: bool
    lines: list[UpliftLine] = Field(description="Each paid claim on the superseded period of a confirmed post.")
    total_difference_pence: int
    not_confirmed_claim_ids: list[int] = Field(
        description="Paid claims on the superseded period whose posts were not confirmed: left as they are."
    )
