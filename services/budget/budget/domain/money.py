"""Money (domain §3), no I/O: rates per weighted patient, ARRS sums, rounding to the penny."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from budget.domain.register import MILLI

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
