"""Bodies of the workforce-plan endpoints: a PCN's plan per financial year and its comparison with posts
and claims (domain §6).

Money is whole pence (``*_pence``, exact integers); WTE are decimal strings (never floats).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.types import NoControlCharacters
from budget.schemas import examples
from budget.schemas.claims import ClaimMonth
from budget.schemas.common import Strict, Timestamp
from budget.schemas.posts import ROLE_CODE_PATTERN

WTE_PATTERN = r"^[0-9]{1,2}(\.[0-9]{1,2})?$"


def _positive_wte(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("planned_wte is more than 0")
    return value


PlannedWte = Annotated[
    str,
    Field(
        pattern=WTE_PATTERN,
        description="Planned whole-time equivalents (37.5 hours a week each) as a decimal string with up to 2 "
        "decimals, more than 0 and at most 99.99.",
        examples=["1.50"],
    ),
    AfterValidator(_positive_wte),
]
RoleCode = Annotated[
    str,
    Field(
        # At least 2 characters: the roles service refuses shorter codes (its own pattern).
        min_length=2,
        max_length=64,
        pattern=ROLE_CODE_PATTERN,
        description="A role code of the catalogue (snake_case).",
        examples=["clinical_pharmacist"],
    ),
]
Phase = Annotated[StrictInt, Field(ge=1, le=4, description="The plan's phase, 1 to 4.", examples=[1])]
Note = Annotated[str, Field(min_length=1, max_length=500), NoControlCharacters]


class WorkforcePlanLineIn(Strict):
    role_code: RoleCode
    planned_wte: PlannedWte
    phase: Phase
    start_month: ClaimMonth = Field(
        description="The intended start month, `YYYY-MM`, inside the plan's financial year."
    )
    note: Note | None = Field(None, description="Free text for the PCN's own use, e.g. the employer or a condition.")


PLAN_EXAMPLE: dict[str, Any] = {
    "lines": [
        {"role_code": "clinical_pharmacist", "planned_wte": "1.50", "phase": 1, "start_month": "2024-07"},
        {"role_code": "first_contact_physiotherapist", "planned_wte": "1.00", "phase": 2, "start_month": "2024-10"},
    ]
}


class WorkforcePlanPut(Strict):
    """The whole plan: a PUT replaces every line. At most one line per role and phase."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PLAN_EXAMPLE]})

    lines: list[WorkforcePlanLineIn] = Field(
        max_length=200, description="The plan's lines (at most 200); an empty list plans nothing."
    )

    @model_validator(mode="after")
    def _one_line_per_role_and_phase(self) -> WorkforcePlanPut:
        seen: set[tuple[str, int]] = set()
        for line in self.lines:
            key = (line.role_code, line.phase)
            if key in seen:
                raise ValueError(f"{line.role_code} appears twice in phase {line.phase}: one line per role and phase")
            seen.add(key)
        return self


class WorkforcePlanLinePublic(BaseModel):
    role_code: str
    planned_wte: str = Field(description="Two decimals, exact, e.g. `1.50`.")
    phase: int
    start_month: str
    note: str | None


class ReplacedWorkforcePlan(BaseModel):
    """A plan a later PUT replaced."""

    version: int
    lines: list[WorkforcePlanLinePublic]
    set_at: Timestamp = Field(description="When this version was set.")
    set_by: str = Field(description="The client that set it.")
    replaced_at: Timestamp
    replaced_by: str


WorkforcePlanStatus = TypeAliasType(
    "WorkforcePlanStatus",
    Annotated[
        Literal["not_planned", "behind_plan", "on_plan", "above_plan"],
        Field(title="WorkforcePlanStatus", description="How a role's posts compare with the workforce plan."),
    ],
)


class RoleComparison(BaseModel):
    """Plan, posts and claims of one role. WTE are decimal strings with 4 decimals (exact sums, shown
    rounded half up); gaps are signed."""

    role_code: str
    planned_wte: str = Field(description="Sum of the plan's lines for the role (every phase).")
    planned_wte_due: str = Field(
        description="Sum of the lines whose `start_month` is on or before the `as_of` month: what the plan says "
        "should be in post by now."
    )
    phases: list[int] = Field(description="The phases the role is planned in.")
    first_start_month: str | None = Field(description="The earliest planned start month of the role.")
    posts_in_fy: int = Field(
        description="Posts of the role (not in the 2019 baseline) in post on at least one day of the financial year."
    )
    in_post_wte: str = Field(description="Their WTE (hours ÷ 37.5), summed.")
    in_post_wte_as_of: str = Field(description="WTE of those posts in post on the `as_of` day.")
    claimed_month: str | None = Field(
        description="The latest month of the financial year with a live claim for the role (a claim not rejected or "
        "withdrawn; drafts count)."
    )
    claimed_wte: str = Field(description="WTE of the posts claimed for in `claimed_month` (0 without one).")
    claimed_pence: int = Field(
        description="Reimbursable amounts of the role's live claims in the financial year, drafts included."
    )
    gap_wte: str = Field(
        description="planned_wte − in_post_wte: positive, still to recruit; negative, beyond the plan."
    )
    due_gap_wte: str = Field(description="planned_wte_due − in_post_wte_as_of: positive, behind the plan's timing.")
    claim_gap_wte: str = Field(
        description="in_post_wte_as_of − claimed_wte: WTE in post that the latest claimed month does not claim for."
    )
    status: WorkforcePlanStatus = Field(
        description="`not_planned`: posts or claims but no line; `behind_plan`: due_gap_wte > 0; `above_plan`: in "
        "post as of today more than the whole plan; `on_plan` otherwise."
    )


class RoleComparisonRow(RoleComparison):
    """One role of the comparison as a flat row (``?format=csv``)."""

    pcn_code: str
    fy: str
    as_of: date


class WorkforcePlanPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.WORKFORCE_PLAN))

    pcn_code: str
    fy: str
    version: int = Field(description="1 for the first plan, one more for each replacement (the ETag follows it).")
    lines: list[WorkforcePlanLinePublic] = Field(description="By phase, start month and role.")
    as_of: date = Field(
        description="The day the comparison is made for: today in England, or the first or last day of the "
        "financial year when today lies before or after it."
    )
    comparison: list[RoleComparison] = Field(
        description="Per role planned, in post in the financial year or claimed for in it, by role code."
    )
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp = Field(description="When the plan in force was set.")
    updated_by: str = Field(description="Who set it.")
    history: list[ReplacedWorkforcePlan] = Field(description="The plans this one replaced, oldest first.")
