"""Pure rules of the organisation register, no I/O: reference dates, exact weighted populations,
membership intervals."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from budget.domain.calendar import parse_fy

# ASCII digits only: \d and int() would also take other scripts' digits ("２０２４-25").
POPULATION_PATTERN = r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,3})?$"
"""A weighted population as a decimal string: up to 8 integer digits and 3 decimals, e.g. `12345.678`."""

MILLI = 1000


def reference_date_for(fy: str) -> date:
    """The day a financial year's weighted population is counted: 1 January before the FY starts."""
    start, _ = parse_fy(fy)
    return date(start.year, 1, 1)


def population_to_milli(value: str) -> int:
    """``"12345.6"`` → 12345600: exact thousandths of a weighted patient; ValueError past 3 decimals."""
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError("a weighted population is a decimal string, e.g. 12345.678") from exc
    scaled = amount * MILLI
    if not amount.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError("a weighted population has at most three decimals")
    return int(scaled)


def milli_to_population(milli: int) -> str:
    """12345600 → ``"12345.600"``: always three decimals, so equal values read the same."""
    whole, part = divmod(milli, MILLI)
    return f"{whole}.{part:03d}"


def day_before(day: date) -> date:
    """A membership closed as of ``day`` ends the day before: ``valid_to`` is inclusive."""
    return day - timedelta(days=1)
