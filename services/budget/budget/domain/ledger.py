"""The double-entry rules of a pot, no I/O (domain §5).

Every posting moves one positive amount out of its debit account into its credit account, both in
the same pot. An account's balance is what came in minus what went out; ``funding`` only ever gives,
so minus its balance is what has been allocated. The balances a budget shows follow:

    allocated = −funding, held, approved, paid, lapsed, available
    available = allocated − held − approved − paid − lapsed   (never negative)

``lapsed`` stays 0 until the FY closes (a posting from ``available`` to ``lapsed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

BALANCE_FIELDS = ("allocated_pence", "held_pence", "approved_pence", "paid_pence", "lapsed_pence", "available_pence")

# Which balance an account's movements show in, and with which sign.
_FIELD_OF_ACCOUNT: Mapping[str, tuple[str, int]] = {
    "funding": ("allocated_pence", -1),
    "available": ("available_pence", 1),
    "held": ("held_pence", 1),
    "approved": ("approved_pence", 1),
    "paid": ("paid_pence", 1),
    "lapsed": ("lapsed_pence", 1),
}


@dataclass(frozen=True, slots=True)
class Balances:
    allocated_pence: int = 0
    held_pence: int = 0
    approved_pence: int = 0
    paid_pence: int = 0
    lapsed_pence: int = 0
    available_pence: int = 0

    def is_valid(self) -> bool:
        """Nothing negative, and ``available`` is what the others leave."""
        values = [getattr(self, name) for name in BALANCE_FIELDS]
        return all(v >= 0 for v in values) and self.available_pence == (
            self.allocated_pence - self.held_pence - self.approved_pence - self.paid_pence - self.lapsed_pence
        )


def apply(balances: Balances, *, debit_account: str, credit_account: str, amount_pence: int) -> Balances:
    """The balances after one posting (which may leave them invalid: the caller checks)."""
    if amount_pence <= 0:
        raise ValueError("a posting moves a positive amount")
    if debit_account == credit_account:
        raise ValueError("a posting moves money between two different accounts")
    changes: dict[str, int] = {}
    for account, sign in ((debit_account, -1), (credit_account, 1)):
        field, shown = _FIELD_OF_ACCOUNT[account]
        changes[field] = changes.get(field, getattr(balances, field)) + sign * shown * amount_pence
    return replace(balances, **changes)


def replay(postings: Iterable[tuple[str, str, int]]) -> Balances:
    """Balances recomputed from ``(debit_account, credit_account, amount_pence)`` postings."""
    balances = Balances()
    for debit, credit, amount in postings:
        balances = apply(balances, debit_account=debit, credit_account=credit, amount_pence=amount)
    return balances
