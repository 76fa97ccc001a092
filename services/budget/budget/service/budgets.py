"""PCN budgets on the double-entry ledger (domain §5): the formula allocation, top-ups and
reductions, balances and the ledger itself.

Every movement goes through :mod:`budget.service.postings`, on the pot's balance row locked first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from arrs_kit.idempotency import KeyLease
from arrs_kit.pagination import decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from budget.domain import ledger, money, register
from budget.domain.calendar import claim_window_end, financial_year, today_in_england
from budget.errors import (
    ClaimsOutstanding,
    ClaimWindowOpen,
    FinancialYearClosed,
    FundingRateMissing,
    PotNotAvailable,
    WeightedPopulationMissing,
)
from budget.models import POTS, BudgetBalance, Pcn, Posting, YearClose
from budget.repository import claims as claims_repo
from budget.repository import funding_rates as funding_rates_repo
from budget.repository import ledger as ledger_repo
from budget.repository import register as register_repo
from budget.schemas.budgets import (
    AllocateResult,
    AllocationCreate,
    AllocationPublic,
    BudgetPublic,
    PostingPublic,
    PotBalance,
    PotLapse,
    PotSum,
    YearClosePublic,
)
from budget.service import authz, common
from budget.service.postings import post

ALLOCATION = "allocation"  # the formula sum, rate × weighted population (and its recalculations)
TOP_UP = "top_up"
REDUCTION = "reduction"
LAPSE = "lapse"


def pot_balance(row: BudgetBalance) -> PotBalance:
    return PotBalance(pot=row.pot, **{f: getattr(row, f) for f in ledger.BALANCE_FIELDS})


def budget_public(pcn_code: str, fy: str, rows: Sequence[BudgetBalance]) -> BudgetPublic:
    return BudgetPublic(pcn_code=pcn_code, fy=fy, pots=[pot_balance(r) for r in rows])


def posting_public(row: Posting) -> PostingPublic:
    assert row.id is not None
    return PostingPublic(
        id=row.id,
        pcn_code=row.pcn_code,
        fy=row.fy,
        pot=row.pot,
        debit_account=row.debit_account,
        credit_account=row.credit_account,
        amount_pence=row.amount_pence,
        kind=row.kind,
        reason=row.reason,
        reference=row.reference,
        request_id=row.request_id,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def allocate(*, session: Session, principal: Principal, pcn: Pcn, fy: str) -> tuple[AllocateResult, bool]:
    """Post the FY's formula sums: per pot, round_half_up(rate × weighted population at 1 January
    before the FY). Idempotent by construction: what is posted is the difference between the sum and
    what earlier ``allocation`` postings already put in the pot, so a second call posts nothing
    (and answers ``False``: nothing changed); after a corrected rate or population it posts the
    difference. Answers the sums and the balances, and whether anything was posted. ``pcn``: one the
    principal manages (:data:`budget.deps.ManagedPcn`)."""
    financial_year(fy)
    population = register_repo.get_weighted_population(session, pcn.code, fy)
    if population is None:
        raise WeightedPopulationMissing(
            f"PCN {pcn.code} has no weighted population for {fy}; set it first "
            f"(PUT /v1/pcns/{pcn.code}/weighted-populations/{fy}).",
            extra={"pcn_code": pcn.code, "fy": fy},
        )
    rate = funding_rates_repo.get_funding_rate(session, fy)
    if rate is None:
        raise FundingRateMissing(
            f"No funding rate for {fy}; an admin sets it with PUT /v1/funding-rates/{fy}.", extra={"fy": fy}
        )
    rates = {"arrs": rate.arrs_rate_tenth_pence, "arrs_gp": rate.arrs_gp_rate_tenth_pence}
    milli = population.weighted_population_milli
    wp_text = register.milli_to_population(milli)
    now = common.now()
    sums: list[PotSum] = []
    posted = False
    for pot in POTS:  # always in this order: writers lock a PCN's pots in the same order
        tenths = rates[pot]
        target = 0 if tenths is None else money.arrs_sum_pence(rate_tenth_pence=tenths, weighted_population_milli=milli)
        if tenths is None and ledger_repo.get_balance(session, pcn.code, fy, pot) is None:
            continue  # no such pot this year, and nothing was ever posted to it
        if tenths is not None:
            sums.append(PotSum(pot=pot, rate_per_weighted_patient=money.tenth_pence_to_rate(tenths), sum_pence=target))
        balance = ledger_repo.lock_balance(session, pcn.code, fy, pot, now=now)
        refuse_if_closed(session, pcn.code, fy)  # read under the lock: a close cannot slip in between
        already = ledger_repo.net_posted(session, pcn.code, fy, pot, kind=ALLOCATION, account="available")
        delta = target - already
        if delta == 0:
            continue
        rate_text = "no rate" if tenths is None else f"£{money.tenth_pence_to_rate(tenths)}"
        reason = f"{pot} sum {fy}: {rate_text} × {wp_text} weighted patients at {population.reference_date}" + (
            "" if already == 0 else f" (recalculated; {already} pence allocated before)"
        )
        post(
            session,
            balance,
            debit_account="funding" if delta > 0 else "available",
            credit_account="available" if delta > 0 else "funding",
            amount_pence=abs(delta),
            kind=ALLOCATION,
            reason=reason,
            principal=principal,
            now=now,
        )
        posted = True
    if posted:
        session.commit()
    else:
        session.rollback()  # zero-balance rows for pots with a zero sum are not worth keeping
    result = AllocateResult(
        pcn_code=pcn.code,
        fy=fy,
        weighted_population=wp_text,
        reference_date=population.reference_date,
        sums=sums,
        pots=[pot_balance(b) for b in ledger_repo.balances_of(session, pcn.code, fy)],
    )
    return result, posted


def add_allocation(
    *,
    session: Session,
    principal: Principal,
    pcn: Pcn,
    fy: str,
    data: AllocationCreate,
    lease: KeyLease | None = None,
) -> AllocationPublic:
    """The PCN's ICB (or an admin): top a pot up (positive amount) or reduce it (negative, never by
    more than is available: 409 ``budget-exceeded``, nothing written), with a reason. With a
    ``lease`` (an ``Idempotency-Key``), the answer is recorded on it with the posting."""
    financial_year(fy)
    if data.pot == "arrs_gp":
        rate = funding_rates_repo.get_funding_rate(session, fy)
        if rate is None or rate.arrs_gp_rate_tenth_pence is None:
            raise PotNotAvailable(f"{fy} has no ring-fenced arrs_gp pot (no ARRS GP rate).", extra={"pot": data.pot})
    now = common.now()
    balance = ledger_repo.lock_balance(session, pcn.code, fy, data.pot, now=now)
    refuse_if_closed(session, pcn.code, fy)
    topping_up = data.amount_pence > 0
    posting = post(
        session,
        balance,
        debit_account="funding" if topping_up else "available",
        credit_account="available" if topping_up else "funding",
        amount_pence=abs(data.amount_pence),
        kind=TOP_UP if topping_up else REDUCTION,
        reason=data.reason,
        principal=principal,
        now=now,
        idempotency_key=lease.key if lease else None,
    )
    public = AllocationPublic(
        posting=posting_public(posting),
        budget=budget_public(pcn.code, fy, ledger_repo.balances_of(session, pcn.code, fy)),
    )
    if lease is not None:
        lease.record(session, status=201, body=public.model_dump(mode="json"), location=f"/v1/pcns/{pcn.code}/ledger")
    session.commit()
    return public


def get_budget(*, session: Session, pcn: Pcn, fy: str) -> BudgetPublic:
    """A readable PCN's pots for a financial year, straight from the maintained balance rows."""
    financial_year(fy)
    return budget_public(pcn.code, fy, ledger_repo.balances_of(session, pcn.code, fy))


def list_budgets(
    *, session: Session, principal: Principal, fy: str, icb_code: str | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The pots of every PCN the principal may see (optionally of one ICB) for a year, by PCN code, each
    with the PCN's name, ICB and list size; a PCN with nothing posted that year has no pots.

    The rows are plain dicts in the shape of :class:`ListedBudget` (its fields, in its order), answered
    without a model per row (``rows_or_csv``): an ICB's scorecard list reads this page on every poll."""
    financial_year(fy)
    after = decode_cursor(cursor, str)
    pcns = register_repo.list_pcns(
        session,
        scope=authz.list_scope(principal),
        icb_code=common.normalise_code(icb_code) if icb_code else None,
        after_code=str(after[0]) if after else None,
        limit=limit + 1,
    )
    page, next_cursor = next_cursor_for(pcns, limit, lambda r: (r.code,))
    pots: dict[str, list[dict[str, Any]]] = {p.code: [] for p in page}
    for row in ledger_repo.balances_of_pcns(session, list(pots), fy):
        values = tuple(row)
        pots[values[0]].append({"pot": values[1], **dict(zip(ledger.BALANCE_FIELDS, values[2:], strict=True))})
    return [
        {
            "pcn_code": p.code,
            "fy": fy,
            "pots": pots[p.code],
            "pcn_name": p.name,
            "icb_code": p.icb_code,
            "list_size": p.list_size,
        }
        for p in page
    ], next_cursor


def list_ledger(
    *, session: Session, pcn: Pcn, fy: str | None, cursor: str | None, limit: int
) -> tuple[list[PostingPublic], str | None]:
    """A readable PCN's postings (one FY, or all), oldest first."""
    if fy is not None:
        financial_year(fy)
    rows = ledger_repo.list_postings(
        session, pcn_code=pcn.code, fy=fy, after_id=common.after_id(cursor), limit=limit + 1
    )
    page, next_cursor = next_cursor_for(rows, limit, lambda r: [r.id])
    return [posting_public(r) for r in page], next_cursor


def close_year(
    *,
    session: Session,
    principal: Principal,
    pcn: Pcn,
    fy: str,
    claim_window_months: int = 3,
    lease: KeyLease | None = None,
) -> YearClosePublic:
    """The PCN's ICB (or an admin), once the year's claim window has ended (domain §5): what is still
    available in each pot lapses (a posting from ``available`` to ``lapsed``); nothing is carried
    forward. Refused while any claim of the year is submitted, or approved and unpaid. Closing a
    closed year answers its close again and moves nothing."""
    window_end = claim_window_end(fy, claim_window_months)
    closed = ledger_repo.get_year_close(session, pcn.code, fy)
    if closed is not None:
        return _close_public(session, pcn, fy, closed, window_end, lapsed=[])
    if today_in_england() <= window_end:
        raise ClaimWindowOpen(
            f"Claims of {fy} may be made until {window_end}; the year can be closed from the day after.",
            extra={"fy": fy, "claim_window_ends_on": window_end.isoformat()},
        )
    now = common.now()
    # Every pot locked first (in the order of every other writer): no claim is held while this looks.
    balances = [
        ledger_repo.lock_balance(session, pcn.code, fy, pot, now=now)
        for pot in POTS
        if ledger_repo.get_balance(session, pcn.code, fy, pot) is not None
    ]
    waiting = claims_repo.awaiting_decision_ids(session, pcn.code, fy)
    if waiting:
        raise ClaimsOutstanding(
            f"{len(waiting)} claim(s) of {fy} are submitted, or approved and unpaid: decide and pay them first.",
            extra={"fy": fy, "claim_ids": waiting},
        )
    lapsed: list[PotLapse] = []
    for balance in balances:
        amount = balance.available_pence
        if amount == 0:
            continue
        post(
            session,
            balance,
            debit_account="available",
            credit_account="lapsed",
            amount_pence=amount,
            kind=LAPSE,
            reason=f"{fy} closed: unused {balance.pot} money lapses (not carried forward)",
            principal=principal,
            now=now,
            idempotency_key=lease.key if lease else None,
        )
        lapsed.append(PotLapse(pot=balance.pot, lapsed_pence=amount))
    record = YearClose(pcn_code=pcn.code, fy=fy, closed_at=now, closed_by=common.actor(principal))
    session.add(record)
    session.flush()
    public = _close_public(session, pcn, fy, record, window_end, lapsed=lapsed)
    if lease is not None:
        lease.record(session, status=200, body=public.model_dump(mode="json"), location=f"/v1/pcns/{pcn.code}/ledger")
    session.commit()
    return public


def _close_public(
    session: Session, pcn: Pcn, fy: str, record: YearClose, window_end: date, *, lapsed: list[PotLapse]
) -> YearClosePublic:
    """The close report: what lapsed now, and per pot what was allocated, held, approved, paid and lapsed."""
    return YearClosePublic(
        pcn_code=pcn.code,
        fy=fy,
        closed_at=record.closed_at,
        closed_by=record.closed_by,
        claim_window_ended_on=window_end,
        lapsed=lapsed,
        pots=[pot_balance(b) for b in ledger_repo.balances_of(session, pcn.code, fy)],
    )


def refuse_if_closed(session: Session, pcn_code: str, fy: str) -> None:
    """422 ``financial-year-closed`` once the PCN's year is closed: no claim or allocation for it."""
    record = ledger_repo.get_year_close(session, pcn_code, fy)
    if record is not None:
        raise FinancialYearClosed(
            f"{fy} was closed on {record.closed_at:%Y-%m-%d} by {record.closed_by}: it takes no more claims or "
            "allocations.",
            extra={"fy": fy},
        )
