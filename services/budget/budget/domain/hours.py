"""Contracted hours of posts (domain §6), held exactly as hundredths of an hour, and their WTE."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from budget.domain import claims_math

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


def wte(centi: int) -> Fraction:
    """Hundredths of an hour a week as exact WTE."""
    return Fraction(centi, FULL_TIME_CENTI)


def wte_to_centi(text: str) -> int:
    """A planned WTE ``"1.5"`` → 150 hundredths of a WTE, exact (the schema allows 2 decimals)."""
    return int(Decimal(text) * 100)


def centi_to_wte(centi: int) -> str:
    """150 hundredths of a WTE → ``"1.50"``."""
    whole, part = divmod(centi, 100)
    return f"{whole}.{part:02d}"


def fixed(value: Fraction, places: int) -> str:
    """A signed decimal string with exactly ``places`` decimals, rounded half up (display)."""
    scaled = claims_math.round_half_up(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"
