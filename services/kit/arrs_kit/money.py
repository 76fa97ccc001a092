"""Whole pence from exact arithmetic: one rounding, half up (0.5p away from zero), at the end."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def round_half_up(value: Fraction | Decimal | int) -> int:
    """``value`` rounded to the nearest whole number, halves away from zero."""
    exact = Fraction(value)
    whole, remainder = divmod(abs(exact.numerator), exact.denominator)
    if 2 * remainder >= exact.denominator:
        whole += 1
    return whole if exact >= 0 else -whole
