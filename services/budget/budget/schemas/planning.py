"""Bodies of the planning endpoints: the forecast and the headroom (domain §6); workforce plans are in
:mod:`budget.schemas.workforce_plans`.

Money is whole pence (``*_pence``, exact integers); WTE are decimal strings (never floats).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from budget.schemas.budgets import Pot
from budget.schemas.claims import StatusField
from budget.schemas.common import CapUnit, RateProvenance

# Forecast

ForecastMonthState = TypeAliasType(
    "ForecastMonthState",
    Annotated[
        Literal["claimed", "draft", "projected", "not_claimable", "unprojected"],
        Field(title="ForecastMonthState", description="How a post's month enters the forecast."),
    ],
)
ForecastBasisSource = TypeAliasType(
    "ForecastBasisSource",
    Annotated[
        Literal["last_claim", "cap"],
        Field(title="ForecastBasisSource", description="What a post's unclaimed months are projected at."),
    ],
)


class ForecastPot(BaseModel):
    """One pot of the PCN's budget for the financial year, and where it is heading."""

    pot: Pot
    allocated_pence: int = Field(description="Everything allocated to the pot (formula sum, top-ups, reductions).")
    available_pence: int = Field(
        description="What the pot has available now (allocated − held − approved − paid − lapsed)."
    )
    held_pence: int = Field(
        description="Held by submitted claims (and positive adjustments) awaiting the ICB's decision."
    )
    approved_pence: int = Field(description="Approved by the ICB, not yet paid.")
    paid_pence: int = Field(description="Paid.")
    lapsed_pence: int = Field(description="Moved to `lapsed` when the financial year closed (0 while it is open).")
    projected_pence: int = Field(
        description="What the pot's posts are projected to claim for the months with no submitted, approved or "
        "paid claim: the sum of `projected_pence` of those posts' months (drafts at their reimbursable amount)."
    )
    projected_outturn_pence: int = Field(description="paid + approved + held + projected.")
    projected_lapse_pence: int = Field(
        description="allocated − projected outturn: what would be lost at the year end. Negative means an "
        "overspend risk (the posts would claim more than the pot holds)."
    )
    unprojected_months: int = Field(
        description="Post-months of this pot that could not be projected (e.g. `rate-not-published`); they count 0 "
        "in `projected_pence`, so when this is not 0 the projection is incomplete."
    )


class ForecastBasis(BaseModel):
    """What a post's unclaimed months are projected at (before the cap)."""

    source: ForecastBasisSource = Field(
        description="`last_claim`: the `actual_pence` of the post's latest claim for a whole month (the latest "
        "month with a live claim, draft included, whose `days_in_post` is the whole month, up to the end of the "
        "financial year). `cap`: the post has no such claim, so each month is projected at its cap."
    )
    claim_id: int | None = Field(description="The claim the basis comes from (`last_claim` only).")
    month: str | None = Field(description="That claim's month (`last_claim` only).")
    actual_pence: int | None = Field(description="That claim's `actual_pence` (`last_claim` only).")


class ForecastMonth(BaseModel):
    """One month of the financial year for one post."""

    month: str = Field(description="`YYYY-MM`.")
    state: ForecastMonthState = Field(
        description="`claimed`: a submitted, approved or paid claim exists; its money is already in the pot's "
        "held, approved or paid, so nothing is projected. `draft`: a draft claim exists; it holds nothing yet, so "
        "the month is projected at the draft's `reimbursable_pence`. `projected`: no live claim; projected as a "
        "claim at the basis would be computed. `not_claimable`: the month cannot be claimed (`reason` says why: "
        "`post-not-active`, `post-in-baseline` or `role-not-claimable`); projected 0. `unprojected`: the month "
        "could be claimed but cannot be computed (`reason`: `rate-not-published`); counted 0 and flagged in the "
        "pot's `unprojected_months`."
    )
    claim_id: int | None = Field(description="The live claim of the month (`claimed` and `draft`).")
    claim_status: StatusField | None = Field(description="Its status.")
    claimed_pence: int = Field(
        description="`claimed`: the claim's reimbursable amount (already in the ledger); otherwise 0."
    )
    days_in_post: int = Field(description="Days of the month inside the post's start and leave dates.")
    days_in_month: int
    cap_pence: int | None = Field(
        description="The month's cap as a claim computes it (rate in force on the 1st × WTE × days in post ÷ days "
        "in month ÷ 12, rounded half up); for a claimed or draft month the claim's own; null when there is no rate."
    )
    funding_share: str | None = Field(
        description="The share a claim for the month is (or would be) paid at; null when there is no rate."
    )
    projected_pence: int = Field(
        description="What the month is projected to claim: round_half_up(min(basis, cap) × funding share), once, as "
        "a claim rounds; the draft's reimbursable amount for a draft; 0 otherwise."
    )
    reason: str | None = Field(
        description="Why the month projects 0 (a claim check code of domain §6), null when it does not."
    )
    flags: list[str] = Field(
        description="Warnings that do not change the figure: `draft` (projected from a draft claim), "
        "`estimated-rate` (the rate in force is an estimate, not a published figure), `role-cap-exceeded` (the "
        "role's cap for the month is already used by other posts' claims, so a claim would be refused today)."
    )


class ForecastPost(BaseModel):
    """One post of the PCN active in the financial year (or with a live claim in it)."""

    post_id: int
    role_code: str
    display_name: str
    geography: str
    wte: str = Field(description="hours_per_week ÷ 37.5, to 4 decimals (display).")
    start_date: date
    leave_date: date | None
    baseline: bool = Field(description="In the 2019 baseline: not claimable, every month projects 0.")
    pot: Pot = Field(description="The pot the post's claims draw on this financial year.")
    basis: ForecastBasis
    claimed_pence: int = Field(description="Sum of the months' `claimed_pence` (submitted, approved or paid claims).")
    projected_pence: int = Field(description="Sum of the months' `projected_pence`.")
    reasons: list[str] = Field(
        description="Every distinct `reason` of the post's months, e.g. `rate-not-published` when the post cannot be "
        "projected; empty when every month is claimed or projected."
    )
    months: list[ForecastMonth] = Field(description="The twelve months of the financial year, April first.")


class ForecastPublic(BaseModel):
    pcn_code: str
    fy: str
    as_of: date = Field(description="The day the forecast was made (today in England).")
    pots: list[ForecastPot] = Field(
        description="`arrs`, and every other pot with a balance or a projection this financial year, by pot."
    )
    posts: list[ForecastPost] = Field(description="By post id.")


class ForecastRow(BaseModel):
    """One post-month of the forecast as a flat row (``?format=csv``)."""

    pcn_code: str
    fy: str
    post_id: int
    role_code: str
    display_name: str
    pot: str
    basis_source: str
    month: str
    state: ForecastMonthState
    claim_id: int | None
    claim_status: str | None
    claimed_pence: int
    days_in_post: int
    days_in_month: int
    cap_pence: int | None
    funding_share: str | None
    projected_pence: int
    reason: str | None
    flags: list[str]


# Headroom


class HeadroomMonth(BaseModel):
    """The cost of one WTE of the role in one month from ``from_month`` to the end of the financial year."""

    month: str
    claimable: bool = Field(description="Whether the role is claimable on the month's 1st (between added and retired).")
    rate_effective_from: date | None = Field(description="Start of the rate period in force on the 1st.")
    annual_max_pence: int | None = Field(description="Its annual maximum for 1 WTE.")
    provenance: RateProvenance | None
    funding_share: str | None = Field(description="The role's funding share in force on the 1st.")
    cost_per_wte_pence: int = Field(
        description="What a claim for 1 WTE in post all month would reimburse at the cap: "
        "round_half_up(annual maximum ÷ 12 × funding share); 0 when the role is not claimable that month."
    )


class RoleCapPublic(BaseModel):
    unit: CapUnit = Field(description="Whether the cap counts posts (headcount) or WTE.")
    limit: int = Field(description="The cap for this PCN's list size in the financial year.")


class HeadroomPublic(BaseModel):
    pcn_code: str
    fy: str = Field(description="The financial year `from_month` lies in.")
    role_code: str
    geography: str
    from_month: str
    pot: Pot = Field(description="The pot a claim for the role draws on this financial year.")
    available_pence: int = Field(description="What the pot has available now.")
    committed_pence: int = Field(
        description="What the PCN's existing posts of this pot are projected to claim for every month of the "
        "financial year they have not claimed yet (the forecast's `projected_pence` of the pot, drafts included); "
        "that money is still in `available`."
    )
    headroom_pence: int = Field(description="available − committed; negative means the posts already overrun the pot.")
    cost_per_wte_pence: int = Field(description="Sum of the months' `cost_per_wte_pence`: 1 WTE from `from_month` on.")
    affordable_wte: str = Field(
        description="The most WTE, in steps of 0.01 and rounded down, whose claims from `from_month` to the end of "
        "the financial year (each month computed and rounded as a claim would be) fit in `headroom_pence`; "
        "`0.00` when nothing fits. Two decimals, e.g. `1.37`."
    )
    affordable_cost_pence: int = Field(description="What `affordable_wte` would claim over the months.")
    estimated_rate: bool = Field(description="True when any month's rate is an estimate, not a published figure.")
    complete: bool = Field(
        description="False when some existing posts could not be projected (their months count 0 in "
        "`committed_pence`, so the headroom is overstated); see `unprojected_post_ids`."
    )
    unprojected_post_ids: list[int]
    role_cap: RoleCapPublic | None = Field(
        description="The role's cap for this PCN in the financial year, if it has one; `affordable_wte` is money "
        "only and does not apply it."
    )
    months: list[HeadroomMonth]
