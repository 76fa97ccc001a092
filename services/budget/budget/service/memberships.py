"""Practice memberships over time. A membership is an interval of days, both ends inclusive, open
(``valid_to`` null) while current. A practice leaving as of a day ends the day before; one joining
starts on it; its intervals never overlap, and it has at most one open membership (a partial unique
index enforces that, whoever races)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.principal import Principal
from budget.domain import register, scope
from budget.errors import InvalidEffectiveDate, MembershipOverlap, PcnExists, PracticeInAnotherPcn
from budget.models import PracticeMembership
from budget.repository import register as register_repo
from budget.service import common
from budget.service.common import today_in_england


def effective_date(given: date | None) -> date:
    """The day a membership change takes effect: as given (never in the future), else today."""
    today = today_in_england()
    if given is None:
        return today
    if given > today:
        raise InvalidEffectiveDate(
            f"effective_date {given} is in the future; record the change on or after the day it takes effect."
        )
    return given


def _holders_shown(session: Session, principal: Principal, pcn_codes: Iterable[str]) -> bool:
    """Whether a conflict may name these PCNs to the principal: only an admin, or the ICB they all
    belong to (domain §8: no message names another tenant's organisation). Anyone else is told
    that a code is taken, not by whom."""
    icbs = register_repo.icb_codes_of_pcns(session, set(pcn_codes))
    return all(scope.may_see_holder(principal, icb_code=icb) for icb in icbs.values())


def in_another_pcn(session: Session, principal: Principal, held: Sequence[PracticeMembership]) -> PracticeInAnotherPcn:
    if _holders_shown(session, principal, (m.pcn_code for m in held)):
        named = ", ".join(f"{m.practice_code} (PCN {m.pcn_code})" for m in held)
        return PracticeInAnotherPcn(
            f"A practice belongs to one PCN at a time; currently a member elsewhere: {named}. "
            "Remove it from that PCN first (PATCH its practice_codes).",
            extra={
                "pcn_code": held[0].pcn_code,
                "conflicts": [{"practice_code": m.practice_code, "pcn_code": m.pcn_code} for m in held],
            },
        )
    codes = ", ".join(sorted({m.practice_code for m in held}))
    return PracticeInAnotherPcn(
        f"A practice belongs to one PCN at a time; currently a member of another PCN: {codes}. "
        "The other PCN's ICB (or an admin) removes it from that PCN first.",
        extra={"conflicts": [{"practice_code": m.practice_code} for m in held]},
    )


def join(
    session: Session, *, pcn_code: str, practice_codes: Sequence[str], on: date, principal: Principal, now: datetime
) -> None:
    """Open memberships of ``pcn_code`` from ``on``, for practices in no other PCN now and in none on
    or after ``on``."""
    if not practice_codes:
        return
    held = [m for m in register_repo.open_memberships_of_practices(session, practice_codes) if m.pcn_code != pcn_code]
    if held:
        raise in_another_pcn(session, principal, held)
    for past in register_repo.memberships_of_practices(session, practice_codes):
        if past.valid_to is not None and past.valid_to >= on:
            if past.pcn_code == pcn_code or _holders_shown(session, principal, [past.pcn_code]):
                raise MembershipOverlap(
                    f"Practice {past.practice_code} was in PCN {past.pcn_code} until {past.valid_to}; "
                    f"a new membership must start after that, not on {on}.",
                    extra={"practice_code": past.practice_code, "pcn_code": past.pcn_code},
                )
            raise MembershipOverlap(
                f"Practice {past.practice_code} was in another PCN until {past.valid_to}; "
                f"a new membership must start after that, not on {on}.",
                extra={"practice_code": past.practice_code},
            )
    # Every writer claims practices in code order, so two claims never each wait for the other's.
    for code in sorted(practice_codes):
        session.add(
            PracticeMembership(
                practice_code=code, pcn_code=pcn_code, valid_from=on, opened_at=now, opened_by=common.actor(principal)
            )
        )


def leave(memberships: Iterable[PracticeMembership], *, on: date, principal: Principal, now: datetime) -> None:
    """Close open memberships as of ``on``: the practice's last day in the PCN is the day before."""
    for membership in memberships:
        if on <= membership.valid_from:
            raise InvalidEffectiveDate(
                f"Practice {membership.practice_code} joined on {membership.valid_from}; it can leave from "
                "the day after at the earliest (effective_date), so its membership keeps at least one day."
            )
        membership.valid_to = register.day_before(on)
        membership.closed_at = now
        membership.closed_by = common.actor(principal)


@contextmanager
def conflicts_explained(
    session: Session, principal: Principal, *, pcn_code: str, practice_codes: Sequence[str], creating: bool
) -> Iterator[None]:
    """Run the writes of ``pcn_code`` (``creating`` it, or changing it) and commit. A unique violation
    means a racing request got there first (the index, not our earlier read, has the last word):
    answer with the rule it broke."""
    try:
        yield
        session.commit()
    except IntegrityError:
        session.rollback()
        if creating and register_repo.get_pcn(session, pcn_code) is not None:
            raise PcnExists(f"PCN {pcn_code} is in the register already.") from None
        held = [
            m for m in register_repo.open_memberships_of_practices(session, practice_codes) if m.pcn_code != pcn_code
        ]
        if held:
            raise in_another_pcn(session, principal, held) from None
        raise
