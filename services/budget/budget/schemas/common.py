"""Types every body of the budget service shares: organisation codes, names, timestamps, strictness.

Codes are accepted in any case and answered upper-case (domain §2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
)
from typing_extensions import TypeAliasType

from arrs_kit.types import BoundedDate, NoControlCharacters
from budget.domain import register

# The contract's enums the roles service answers too: defined there alike (name, values, words), so the
# gateway's merge keeps one (and refuses two that differ).
Geography = TypeAliasType(
    "Geography",
    Annotated[
        Literal["national", "outer_london", "inner_london", "london"],
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


def refuse_duplicates(codes: list[str]) -> list[str]:
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
    AfterValidator(refuse_duplicates),
]
WeightedPopulationStr = Annotated[
    str,
    Field(
        pattern=register.POPULATION_PATTERN,
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


Reason = Annotated[str, Field(min_length=1, max_length=500), NoControlCharacters]
