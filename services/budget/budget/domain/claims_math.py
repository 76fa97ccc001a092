"""The claim computation of domain.md §6, exact to the penny and with no I/O.

Every intermediate is an exact :class:`fractions.Fraction`; a money result is rounded once, at the
end, to the whole penny, half up (0.5p away from zero). The computation answers every intermediate
so a finance officer can check a claim by hand.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

FULL_TIME_HOURS = Fraction(75, 2)  # 37.5 hours a week is 1 WTE (NHS workforce convention)
MONTHS_PER_YEAR = 12
SUPPLIER_FEE_MONTHLY_MAX_PENCE_PER_WTE = 20_000  # SPLW bought from a supplier: £200 per WTE per month


def round_half_up(value: Fraction) -> int:
    """Round to the nearest whole number, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * remainder >= magnitude.denominator:
        whole += 1
    return sign * whole


def exact(value: str | int | Decimal | Fraction) -> Fraction:
    """A decimal string (``"0.7"``, ``"22.5"``), int, Decimal or Fraction as an exact fraction."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):  # pragma: no cover - refused on purpose: no floats on a money path
        raise TypeError("floats are not exact: pass a decimal string")
    return Fraction(Decimal(value)) if isinstance(value, str | Decimal) else Fraction(value)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def days_in_post(start_date: date, leave_date: date | None, year: int, month: int) -> int:
    """Days of the month inside [start_date, leave_date], both ends inclusive."""
    first, last = month_bounds(year, month)
    begin = max(first, start_date)
    end = min(last, leave_date) if leave_date is not None else last
    return max(0, (end - begin).days + 1)


@dataclass(frozen=True, slots=True)
class ClaimComputation:
    days_in_post: int
    days_in_month: int
    fraction: Fraction
    wte: Fraction
    cap: Fraction
    fee_allowed: Fraction
    actual: Fraction
    funding_share: Fraction
    reimbursable_pence: int

    @property
    def cap_pence(self) -> int:
        return round_half_up(self.cap)

    @property
    def actual_pence(self) -> int:
        return round_half_up(self.actual)

    @property
    def fee_allowed_pence(self) -> int:
        return round_half_up(self.fee_allowed)


def compute_claim(
    *,
    year: int,
    month: int,
    start_date: date,
    leave_date: date | None,
    hours_per_week: str | Decimal | Fraction,
    annual_max_pence: int,
    funding_share: str | Decimal | Fraction,
    salary_pence: int,
    employer_ni_pence: int,
    employer_pension_pence: int,
    supplier_fee_pence: int = 0,
    supplier_fee_allowed: bool = False,
) -> ClaimComputation:
    """The reimbursable amount of one post for one month, with every intermediate.

    ``annual_max_pence`` is the maximum of the rate period in force on the 1st of the month;
    ``supplier_fee_allowed`` is true only for a social prescribing link worker bought from a supplier
    (the caller refuses a fee on any other role before computing).
    """
    for name, amount in (
        ("salary_pence", salary_pence),
        ("employer_ni_pence", employer_ni_pence),
        ("employer_pension_pence", employer_pension_pence),
        ("supplier_fee_pence", supplier_fee_pence),
        ("annual_max_pence", annual_max_pence),
    ):
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError(f"{name} must be a whole, non-negative number of pence")
    _, last = month_bounds(year, month)
    days = days_in_post(start_date, leave_date, year, month)
    fraction = Fraction(days, last.day)
    wte = exact(hours_per_week) / FULL_TIME_HOURS
    share = exact(funding_share)
    cap = Fraction(annual_max_pence) * wte * fraction / MONTHS_PER_YEAR
    fee_allowed = (
        min(Fraction(supplier_fee_pence), SUPPLIER_FEE_MONTHLY_MAX_PENCE_PER_WTE * wte * fraction)
        if supplier_fee_allowed
        else Fraction(0)
    )
    actual = Fraction(salary_pence + employer_ni_pence + employer_pension_pence) + fee_allowed
    reimbursable = round_half_up(min(actual, cap) * share)
    return ClaimComputation(
        days_in_post=days,
        days_in_month=last.day,
        fraction=fraction,
        wte=wte,
        cap=cap,
        fee_allowed=fee_allowed,
        actual=actual,
        funding_share=share,
        reimbursable_pence=reimbursable,
    )


def decimal_string(value: Fraction, places: int = 4) -> str:
    """A fraction shown as a decimal string rounded half up to ``places`` (for display only)."""
    scaled = round_half_up(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**places)
    return f"{sign}{whole}.{part:0{places}d}".rstrip("0").rstrip(".") if places else f"{sign}{whole}"
