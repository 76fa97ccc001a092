"""Bodies of the organisation register: ICBs, PCNs, practices, weighted populations."""

from __future__ import annotations

from datetime import date

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import BoundedDate
from budget.domain import register
from budget.schemas import examples
from budget.schemas.common import (
    EffectiveDate,
    IcbCode,
    ListSize,
    Name,
    PcnCode,
    PracticeCodes,
    Strict,
    Timestamp,
    WeightedPopulationStr,
)


class IcbCreate(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "QHM", "name": "North East and North Cumbria"}]}
    )

    code: IcbCode
    name: Name


class IcbPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.ICB))

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
        json_schema_extra={
            "examples": [{"weighted_population": "51234.567", "reference_date": "2024-01-01", "list_size": 52000}]
        },
    )

    weighted_population: WeightedPopulationStr
    reference_date: BoundedDate = Field(description="1 January before the financial year starts.")
    list_size: ListSize | None = Field(
        None,
        description="The registered list size for the financial year, on which its role caps are judged; "
        "left out, the PCN's current list size judges them.",
    )

    @field_validator("weighted_population")
    @classmethod
    def _positive(cls, value: str) -> str:
        if register.population_to_milli(value) <= 0:
            raise ValueError("a weighted population is more than 0")
        return value


class ReplacedWeightedPopulation(BaseModel):
    weighted_population: str
    reference_date: date
    list_size: int | None
    set_at: Timestamp
    set_by: str
    replaced_at: Timestamp
    replaced_by: str


class WeightedPopulationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.WEIGHTED_POPULATION))

    pcn_code: str
    fy: str
    weighted_population: str = Field(description="Decimal string with three decimals, e.g. `10234.567`.")
    reference_date: date
    list_size: int | None = Field(description="The year's registered list size; null: none recorded for it.")
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
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.PCN))

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
