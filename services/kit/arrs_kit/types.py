"""Input types with the strictness the money and calendar paths need.

Pydantic's lax mode would take ``false`` as an integer and ``0`` as a date; these types refuse both
while still reading ISO date strings from JSON bodies and query strings.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD") from exc
    if len(value) != 10:
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD")
    return parsed


def _in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"a date between {MIN_DATE} and {MAX_DATE}")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
"""A calendar date given as ``YYYY-MM-DD``, between 2000-01-01 and 2099-12-31."""


BoundedDate = Annotated[IsoDate, AfterValidator(_in_range)]

Pence = Annotated[StrictInt, Field(ge=0, le=10**12, description="An amount in whole pence.")]
PositivePence = Annotated[StrictInt, Field(ge=1, le=10**12, description="An amount in whole pence, more than 0.")]
