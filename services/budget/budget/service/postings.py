"""Every movement of money on a pot (domain §5): on the pot's balance row, which the caller holds
locked (:func:`budget.repository.ledger.lock_balance`), the posting is applied by the rules in
:mod:`budget.domain.ledger`; anything that would leave a balance negative is refused (409
``budget-exceeded``, nothing changed); the posting is added, all in the caller's transaction. The
balance row's CHECKs refuse a negative balance even if a code path skipped that check."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired

from sqlalchemy.orm import Session
from typing_extensions import TypedDict, Unpack

from arrs_kit.context import current_request_id
from arrs_kit.metrics import count_on_commit
from arrs_kit.principal import Principal
from budget.domain import ledger
from budget.errors import BudgetExceeded
from budget.metrics import LEDGER_PENCE, LEDGER_POSTINGS
from budget.models import BudgetBalance, Posting
from budget.repository import ledger as ledger_repo
from budget.service import common


class Movement(TypedDict):
    """One movement of money: the accounts, the pence, why, and who moved it when."""

    debit_account: str
    credit_account: str
    amount_pence: int
    kind: str
    reason: str
    principal: Principal
    now: datetime
    reference: NotRequired[str | None]
    idempotency_key: NotRequired[str | None]


def post(session: Session, balance: BudgetBalance, **movement: Unpack[Movement]) -> Posting:
    """Post one movement to a pot whose balance row the caller holds locked (:func:`ledger_repo.lock_balance`)."""
    posting = Posting(**_moved(session, balance, movement))
    session.add(posting)
    session.flush()
    return posting


def add_posting(session: Session, balance: BudgetBalance, **movement: Unpack[Movement]) -> None:
    """As :func:`post`, for a caller that does not show the posting: it is written at once by a plain
    INSERT (no ORM object, no id read back, cheaper by half than the ORM's); the balance is written
    with the caller's next flush, in the same transaction."""
    ledger_repo.insert_posting(session, _moved(session, balance, movement))


def _moved(session: Session, balance: BudgetBalance, movement: Movement) -> dict[str, Any]:
    """Apply a movement to the pot's balance (409 ``budget-exceeded`` if it would leave a balance
    negative, nothing changed) and answer the columns of its posting, counted when the transaction
    commits."""
    debit_account, credit_account = movement["debit_account"], movement["credit_account"]
    amount_pence, kind, now = movement["amount_pence"], movement["kind"], movement["now"]
    before = ledger.Balances(**{f: getattr(balance, f) for f in ledger.BALANCE_FIELDS})
    after = ledger.apply(before, debit_account=debit_account, credit_account=credit_account, amount_pence=amount_pence)
    if not after.is_valid():
        raise BudgetExceeded(
            f"{amount_pence} pence cannot leave {debit_account} of pot {balance.pot} "
            f"({balance.pcn_code}, {balance.fy}): {before.available_pence} pence is available.",
            extra={"pot": balance.pot, "available_pence": before.available_pence},
        )
    for field in ledger.BALANCE_FIELDS:
        setattr(balance, field, getattr(after, field))
    balance.updated_at = now
    count_on_commit(session, LEDGER_POSTINGS, kind=kind)
    count_on_commit(session, LEDGER_PENCE, abs(amount_pence), kind=kind)
    return {
        "pcn_code": balance.pcn_code,
        "fy": balance.fy,
        "pot": balance.pot,
        "debit_account": debit_account,
        "credit_account": credit_account,
        "amount_pence": amount_pence,
        "kind": kind,
        "reason": movement["reason"],
        "reference": movement.get("reference"),
        "request_id": current_request_id(),
        "idempotency_key": movement.get("idempotency_key"),
        "created_at": now,
        "created_by": common.actor(movement["principal"]),
    }
