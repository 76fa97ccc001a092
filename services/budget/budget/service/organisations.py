"""ICBs, PCNs and practices: who belongs to whom, now and over time."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.etag import require_if_match
from arrs_kit.pagination import decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from budget.domain import scope
from budget.errors import IcbExists, PcnExists, PracticeNotFound, UnknownIcb
from budget.models import Icb, Pcn
from budget.repository import register as register_repo
from budget.repository.register import ListedPcn
from budget.schemas.register import (
    CurrentPractice,
    IcbCreate,
    IcbPublic,
    PcnCreate,
    PcnDetail,
    PcnMembership,
    PcnSummary,
    PcnUpdate,
    PracticeMembershipPublic,
    PracticePublic,
)
from budget.service import authz, common, memberships
from budget.service.weighted_populations import weighted_population_public

# ICBs


def _icb_public(icb: Icb) -> IcbPublic:
    return IcbPublic.model_validate(icb, from_attributes=True)


def list_icbs(
    *, session: Session, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[IcbPublic], str | None]:
    """ICBs ordered by code: all of them nationally, else the principal's own ICB."""
    visible = authz.list_scope(principal)
    after = decode_cursor(cursor, str)
    rows = register_repo.list_icbs(session, scope=visible, after_code=after[0] if after else None, limit=limit + 1)
    page, next_cursor = next_cursor_for(rows, limit, lambda r: (r.code,))
    return [_icb_public(r) for r in page], next_cursor


def create_icb(*, session: Session, principal: Principal, data: IcbCreate) -> IcbPublic:
    """Admin: add an ICB to the register."""
    authz.require_icb_creator(principal)
    exists = IcbExists(f"ICB {data.code} is in the register already.")
    if register_repo.get_icb(session, data.code) is not None:
        raise exists
    icb = Icb(code=data.code, name=data.name, version=1, created_at=common.now(), created_by=common.actor(principal))
    session.add(icb)
    try:
        session.commit()
    except IntegrityError as err:  # another admin added it between our check and our insert
        session.rollback()
        raise exists from err
    return _icb_public(icb)


# PCNs


def _summary(pcn: Pcn | ListedPcn, icb_name: str, practice_codes: Sequence[str]) -> PcnSummary:
    """A PCN as lists show it, with the codes of its current members (in code order)."""
    return PcnSummary(
        code=pcn.code,
        name=pcn.name,
        icb_code=pcn.icb_code,
        icb_name=icb_name,
        list_size=pcn.list_size,
        practice_codes=list(practice_codes),
        created_at=pcn.created_at,
        created_by=pcn.created_by,
        updated_at=pcn.updated_at,
        updated_by=pcn.updated_by,
    )


def _detail(session: Session, pcn: Pcn) -> tuple[PcnDetail, str]:
    rows = register_repo.memberships_of_pcn(session, pcn.code)
    current = sorted((m for m in rows if m.valid_to is None), key=lambda m: m.practice_code)
    replaced = register_repo.weighted_population_history(session, pcn.code)
    detail = PcnDetail(
        **_summary(
            pcn, register_repo.icb_names(session, [pcn.icb_code])[pcn.icb_code], [m.practice_code for m in current]
        ).model_dump(),
        practices=[CurrentPractice(practice_code=m.practice_code, valid_from=m.valid_from) for m in current],
        membership_history=[PcnMembership.model_validate(m, from_attributes=True) for m in rows],
        weighted_populations=[
            weighted_population_public(row, (old for old in replaced if old.fy == row.fy))
            for row in register_repo.weighted_populations_of_pcn(session, pcn.code)
        ],
    )
    return detail, authz.pcn_etag(pcn)


def list_pcns(
    *, session: Session, principal: Principal, icb_code: str | None, cursor: str | None, limit: int
) -> tuple[list[PcnSummary], str | None]:
    """PCNs ordered by code, within the principal's scope and optionally one ICB."""
    visible = authz.list_scope(principal)
    after = decode_cursor(cursor, str)
    rows = register_repo.list_pcns(
        session,
        scope=visible,
        icb_code=common.normalise_code(icb_code) if icb_code else None,
        after_code=after[0] if after else None,
        limit=limit + 1,
    )
    page, next_cursor = next_cursor_for(rows, limit, lambda r: (r.code,))
    members = register_repo.member_codes_of_pcns(session, [p.code for p in page])
    names = register_repo.icb_names(session, {p.icb_code for p in page})
    return [_summary(p, names[p.icb_code], members.get(p.code, [])) for p in page], next_cursor


def get_pcn(*, session: Session, pcn: Pcn) -> tuple[PcnDetail, str]:
    """One readable PCN with its practices, their history and its weighted populations."""
    return _detail(session, pcn)


def create_pcn(*, session: Session, principal: Principal, data: PcnCreate) -> tuple[PcnDetail, str]:
    """Admin, or the ICB itself: add a PCN with its member practices, joining as of ``effective_date``."""
    authz.require_pcn_creator(principal, icb_code=data.icb_code)
    if register_repo.get_icb(session, data.icb_code) is None:
        raise UnknownIcb(f"ICB {data.icb_code} is not in the register; an admin adds it with POST /v1/icbs.")
    if register_repo.get_pcn(session, data.code) is not None:
        raise PcnExists(f"PCN {data.code} is in the register already; change it with PATCH /v1/pcns/{data.code}.")
    on = memberships.effective_date(data.effective_date)
    now = common.now()
    pcn = Pcn(
        code=data.code,
        name=data.name,
        icb_code=data.icb_code,
        list_size=data.list_size,
        version=1,
        created_at=now,
        created_by=common.actor(principal),
        updated_at=now,
        updated_by=common.actor(principal),
    )
    with memberships.conflicts_explained(
        session, principal, pcn_code=pcn.code, practice_codes=data.practice_codes, creating=True
    ):
        session.add(pcn)
        session.flush()  # the PCN row before the memberships that refer to it
        memberships.join(
            session, pcn_code=pcn.code, practice_codes=data.practice_codes, on=on, principal=principal, now=now
        )
    return _detail(session, pcn)


def update_pcn(
    *, session: Session, principal: Principal, pcn: Pcn, data: PcnUpdate, if_match: str | None
) -> tuple[PcnDetail, str]:
    """Admin or the PCN's ICB (``pcn`` locked): rename, set the list size, or replace the practice
    list. Practices left out leave as of ``effective_date`` (their last day is the day before); new
    ones join on it."""
    require_if_match(if_match, authz.pcn_etag(pcn))
    on = memberships.effective_date(data.effective_date)
    now = common.now()
    changed = False
    if data.name is not None and data.name != pcn.name:
        pcn.name, changed = data.name, True
    if data.list_size is not None and data.list_size != pcn.list_size:
        pcn.list_size, changed = data.list_size, True
    with memberships.conflicts_explained(
        session, principal, pcn_code=pcn.code, practice_codes=data.practice_codes or [], creating=False
    ):
        if data.practice_codes is not None:
            current = {m.practice_code: m for m in register_repo.open_memberships_of_pcns(session, [pcn.code])}
            wanted = set(data.practice_codes)
            removed = [m for c, m in sorted(current.items()) if c not in wanted]
            added = sorted(wanted - set(current))
            memberships.leave(removed, on=on, principal=principal, now=now)
            memberships.join(session, pcn_code=pcn.code, practice_codes=added, on=on, principal=principal, now=now)
            changed = changed or bool(removed or added)
        if changed:
            pcn.version += 1
            pcn.updated_at = now
            pcn.updated_by = common.actor(principal)
    return _detail(session, pcn)


# Practices


def get_practice(*, session: Session, principal: Principal, code: str) -> PracticePublic:
    """The PCN and ICB a practice belongs to now, and every PCN it has been in; 404 outside scope.
    A practice that has left every PCN is in the scope of the PCN it left last."""
    practice_code = common.normalise_code(code)
    rows = sorted(register_repo.memberships_of_practices(session, [practice_code]), key=lambda m: m.valid_from)
    icbs = register_repo.icb_codes_of_pcns(session, {m.pcn_code for m in rows})
    current = next((m for m in rows if m.valid_to is None), None)
    deciding = current or (rows[-1] if rows else None)
    if deciding is None or not scope.may_read_practice(
        principal, practice_code=practice_code, pcn_code=deciding.pcn_code, icb_code=icbs[deciding.pcn_code]
    ):
        raise PracticeNotFound(f"No practice {practice_code} that this client may read.")
    return PracticePublic(
        practice_code=practice_code,
        pcn_code=current.pcn_code if current else None,
        icb_code=icbs[current.pcn_code] if current else None,
        history=[
            PracticeMembershipPublic(
                pcn_code=m.pcn_code, icb_code=icbs[m.pcn_code], valid_from=m.valid_from, valid_to=m.valid_to
            )
            for m in rows
        ],
    )
