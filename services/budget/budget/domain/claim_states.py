"""The claim state machine (domain §6), no I/O: statuses, kinds, the transitions and who takes them,
and the money each transition moves on the pot's ledger.

====================  ==========================================  ===========================
transition            a claim, or an adjustment that adds money   an adjustment that recovers
====================  ==========================================  ===========================
submit                available → held                            (nothing)
approve               held → approved                             (nothing)
reject / withdraw     held → available                            (nothing)
pay                   approved → paid                             paid → available
====================  ==========================================  ===========================

A draft holds nothing, so withdrawing one moves nothing. The statuses are a :class:`StrEnum`: the
members are the strings stored in the ``claim`` table, so they are used as they are in SQL filters,
CHECK constraints and partial indexes (:func:`sql_list`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ClaimStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    WITHDRAWN = "withdrawn"


class ClaimKind(StrEnum):
    CLAIM = "claim"
    ADJUSTMENT = "adjustment"


class ClaimAction(StrEnum):
    """What a claim's history records as the step taken."""

    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    PAY = "pay"
    WITHDRAW = "withdraw"


ENDED = (ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN)
"""A claim that no longer counts: its month may be claimed again."""

LIVE = (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED, ClaimStatus.APPROVED, ClaimStatus.PAID)
"""A live claim (not rejected or withdrawn): the post's month counts as claimed."""

COUNTED = (ClaimStatus.SUBMITTED, ClaimStatus.APPROVED, ClaimStatus.PAID)
"""Claims whose money is in the pot's held, approved or paid: they count against a role's cap for
their month, and adjustments in these statuses count towards what a paid claim has claimed."""

AWAITING_DECISION = (ClaimStatus.SUBMITTED, ClaimStatus.APPROVED)
"""An adjustment in one of these blocks another adjustment of the same claim."""


def sql_list(values: Iterable[StrEnum]) -> str:
    """``('rejected', 'withdrawn')`` for a CHECK constraint or a partial index's predicate."""
    return "(" + ", ".join(f"'{value.value}'" for value in values) + ")"


@dataclass(frozen=True, slots=True)
class Transition:
    """A lifecycle step: from which statuses, to which. Who may take it is a rule of
    :mod:`budget.service.authz` (domain §8), applied by the route's dependency."""

    action: ClaimAction
    gerund: str  # as a refusal says it: "approving needs it submitted"
    sources: tuple[ClaimStatus, ...]
    target: ClaimStatus


SUBMIT = Transition(ClaimAction.SUBMIT, "submitting", (ClaimStatus.DRAFT,), ClaimStatus.SUBMITTED)
APPROVE = Transition(ClaimAction.APPROVE, "approving", (ClaimStatus.SUBMITTED,), ClaimStatus.APPROVED)
REJECT = Transition(ClaimAction.REJECT, "rejecting", (ClaimStatus.SUBMITTED,), ClaimStatus.REJECTED)
PAY = Transition(ClaimAction.PAY, "paying", (ClaimStatus.APPROVED,), ClaimStatus.PAID)
WITHDRAW = Transition(
    ClaimAction.WITHDRAW, "withdrawing", (ClaimStatus.DRAFT, ClaimStatus.SUBMITTED), ClaimStatus.WITHDRAWN
)
EDIT = Transition(ClaimAction.EDIT, "editing", (ClaimStatus.DRAFT,), ClaimStatus.DRAFT)
ADJUST = Transition(ClaimAction.CREATE, "an adjustment", (ClaimStatus.PAID,), ClaimStatus.SUBMITTED)
"""Correcting a paid claim: the adjustment it creates is submitted at once."""


ADJUSTABLE_KINDS = (ClaimKind.CLAIM,)
"""An adjustment corrects a claim, never another adjustment."""


def allowed(transition: Transition, status: str) -> bool:
    return status in transition.sources


@dataclass(frozen=True, slots=True)
class Move:
    """A posting a transition makes on the claim's pot."""

    debit: str
    credit: str
    kind: str  # the posting's kind on the ledger


HOLD = Move("available", "held", "claim_hold")
"""Submitting a claim, or creating an adjustment that adds money: the amount is held."""

_MOVES = {
    (ClaimStatus.SUBMITTED, ClaimStatus.APPROVED): Move("held", "approved", "claim_approval"),
    (ClaimStatus.SUBMITTED, ClaimStatus.REJECTED): Move("held", "available", "claim_release"),
    (ClaimStatus.SUBMITTED, ClaimStatus.WITHDRAWN): Move("held", "available", "claim_release"),
    (ClaimStatus.APPROVED, ClaimStatus.PAID): Move("approved", "paid", "claim_payment"),
}
_RECOVERY = Move("paid", "available", "claim_recovery")
"""Paying an adjustment that recovers money: the overpaid amount comes back to ``available``."""


def move_for(source: str, target: ClaimStatus, *, amount_pence: int) -> Move | None:
    """The posting taking a claim of ``amount_pence`` from ``source`` to ``target`` makes, if any
    (of ``abs(amount_pence)``). A recovering adjustment (a negative amount) moves money only when it
    is paid; a draft holds nothing."""
    if amount_pence > 0:
        return _MOVES.get((ClaimStatus(source), target))
    return _RECOVERY if target is ClaimStatus.PAID else None
