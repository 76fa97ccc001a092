"""Pure rules of the organisation register, no I/O: financial years, reference dates, exact weighted
populations, membership intervals.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from arrs_kit.calendar import parse_fy

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


# Money (domain §3): rates per weighted patient and ARRS sums.

RATE_PATTERN = r"^(0|[1-9][0-9]{0,5})(\.[0-9]{1,3})?$"
"""A rate per weighted patient in pounds as a decimal string with up to 3 decimals, e.g. `22.894`."""

TENTHS_PER_POUND = 1000  # a rate of £22.894 is 22894 tenths of a penny


def rate_to_tenth_pence(value: str) -> int:
    """``"22.894"`` (pounds) → 22894 tenths of a penny, exact; ValueError past 3 decimals."""
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError("a rate is a decimal string of pounds, e.g. 22.894") from exc
    scaled = amount * TENTHS_PER_POUND
    if not amount.is_finite() or scaled != scaled.to_integral_value():
        raise ValueError("a rate has at most three decimals")
    return int(scaled)


def tenth_pence_to_rate(tenths: int) -> str:
    """22894 → ``"22.894"``: pounds with always three decimals."""
    pounds, part = divmod(tenths, TENTHS_PER_POUND)
    return f"{pounds}.{part:03d}"


def round_half_up(value: Decimal | Fraction) -> int:
    """To the whole penny, 0.5 away from zero (domain §3)."""
    exact = Fraction(value)
    whole = int(abs(exact) + Fraction(1, 2))  # int() truncates toward zero; abs makes that floor
    return whole if exact >= 0 else -whole


def arrs_sum_pence(*, rate_tenth_pence: int, weighted_population_milli: int) -> int:
    """round_half_up(rate × weighted population), in pence, computed exactly: the rate in tenths of
    a penny times the population in thousandths of a patient is in ten-thousandths of a penny."""
    return round_half_up(Fraction(rate_tenth_pence * weighted_population_milli, 10 * MILLI))


# Posts (domain §6): contracted hours, held exactly as hundredths of an hour.

MAX_HOURS_CENTI = 4800
FULL_TIME_CENTI = 3750  # 37.5 hours a week is one WTE


def hours_to_centi(value: str) -> int:
    """``"22.5"`` → 2250 hundredths of an hour, exact (the schema pattern allows at most 2 decimals)."""
    return int(Decimal(value) * 100)


def centi_to_hours(centi: int) -> str:
    """2250 → ``"22.50"``: always two decimals."""
    whole, part = divmod(centi, 100)
    return f"{whole}.{part:02d}"


def wte_of(centi: int) -> str:
    """hours ÷ 37.5 to four decimals, rounded half up (display; exact maths uses the Fraction)."""
    value = Fraction(centi, FULL_TIME_CENTI)
    tenth_thousandths = (value * 10_000 * 2 + 1) // 2
    whole, part = divmod(int(tenth_thousandths), 10_000)
    return f"{whole}.{part:04d}"
