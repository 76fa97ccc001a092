"""Input types with the strictness the money and calendar paths need.

Pydantic's lax mode would take ``false`` as an integer and ``0`` as a date; these types refuse both
while still reading ISO date strings from JSON bodies and query strings. Text refuses control
characters (PostgreSQL cannot store NUL; nobody means to send the others).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD") from exc


def _in_range(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"a date between {MIN_DATE} and {MAX_DATE}")
    return value


def refuse_control_characters(value: str) -> str:
    """Tabs and newlines are text; NUL and the other control characters are refused."""
    if _CONTROL.search(value):
        raise ValueError("text must not contain control characters")
    return value


NoControlCharacters = AfterValidator(refuse_control_characters)
"""Add to ``Annotated[str, ...]`` for any free text that reaches the database."""

IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
"""A calendar date given as ``YYYY-MM-DD``."""

BoundedDate = Annotated[IsoDate, AfterValidator(_in_range)]
"""A calendar date given as ``YYYY-MM-DD``, between 2000-01-01 and 2099-12-31."""

Pence = Annotated[StrictInt, Field(ge=0, le=10**12, description="An amount in whole pence.")]
PositivePence = Annotated[StrictInt, Field(ge=1, le=10**12, description="An amount in whole pence, more than 0.")]
