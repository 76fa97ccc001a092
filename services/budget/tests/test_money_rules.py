"""Pure money and ledger rules, no database: exact ARRS sums rounded half up, rates, postings."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from budget.domain import ledger, money, register


@pytest.mark.parametrize(
    ("rate", "population", "pence"),
    [
        # £22.894 × 10,000.5 = £228,951.447 = 22,895,144.7p → 22,895,145p
        ("22.894", "10000.5", 22_895_145),
        # £22.894 × 2.5 = £57.235 = 5,723.5p: half a penny rounds up
        ("22.894", "2.5", 5_724),
        # £22.894 × 10,002.5 = 22,899,723.5p → 22,899,724p
        ("22.894", "10002.5", 22_899_724),
        # £1.303 × 10,005 = 1,303,651.5p → 1,303,652p
        ("1.303", "10005", 1_303_652),
        # £1.303 × 10,000.5 = 1,303,065.15p → 1,303,065p (down below a half)
        ("1.303", "10000.5", 1_303_065),
        # £7.131 × 0.001 = 0.7131p → 1p
        ("7.131", "0.001", 1),
        ("26.631", "50000", 133_155_000),
    ],
)
def test_arrs_sum_is_exact_and_rounds_half_up(rate: str, population: str, pence: int) -> None:
    got = money.arrs_sum_pence(
        rate_tenth_pence=money.rate_to_tenth_pence(rate),
        weighted_population_milli=register.population_to_milli(population),
    )
    assert got == pence
    # The same by decimal arithmetic, to make sure the hand-worked figure is right.
    exact = Decimal(rate) * Decimal(population) * 100
    assert got == int(exact.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def test_round_half_up_goes_away_from_zero() -> None:
    assert [money.round_half_up(Fraction(n, 2)) for n in (-3, -1, 1, 3)] == [-2, -1, 1, 2]
    assert money.round_half_up(Decimal("0.49")) == 0
    assert money.round_half_up(Decimal("-0.49")) == 0


@pytest.mark.parametrize(("text", "tenths"), [("22.894", 22_894), ("1.3", 1_300), ("7", 7_000), ("0.001", 1)])
def test_rates_are_exact_tenths_of_a_penny(text: str, tenths: int) -> None:
    assert money.rate_to_tenth_pence(text) == tenths
    assert money.rate_to_tenth_pence(money.tenth_pence_to_rate(tenths)) == tenths


@pytest.mark.parametrize("text", ["22.8945", "abc", "NaN", "Infinity"])
def test_rates_with_more_than_three_decimals_or_no_number_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        money.rate_to_tenth_pence(text)


def test_postings_move_balances_and_available_follows() -> None:
    b = ledger.replay([("funding", "available", 1_000), ("available", "held", 300), ("held", "approved", 200)])
    assert b == ledger.Balances(
        allocated_pence=1_000, held_pence=100, approved_pence=200, paid_pence=0, lapsed_pence=0, available_pence=700
    )
    assert b.is_valid()
    b = ledger.apply(b, debit_account="approved", credit_account="paid", amount_pence=200)
    assert (b.approved_pence, b.paid_pence, b.available_pence) == (0, 200, 700)
    b = ledger.apply(b, debit_account="available", credit_account="lapsed", amount_pence=700)
    assert (b.available_pence, b.lapsed_pence) == (0, 700) and b.is_valid()


def test_a_reduction_past_available_leaves_invalid_balances() -> None:
    b = ledger.replay([("funding", "available", 500)])
    assert not ledger.apply(b, debit_account="available", credit_account="funding", amount_pence=501).is_valid()
    assert ledger.apply(b, debit_account="available", credit_account="funding", amount_pence=500) == ledger.Balances()


@pytest.mark.parametrize(("debit", "credit", "amount"), [("funding", "available", 0), ("held", "held", 5)])
def test_a_posting_moves_a_positive_amount_between_two_accounts(debit: str, credit: str, amount: int) -> None:
    with pytest.raises(ValueError):
        ledger.apply(ledger.Balances(), debit_account=debit, credit_account=credit, amount_pence=amount)
