"""Rules and transactions of the role catalogue. Routers call these; these call the repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.etag import body_etag, require_if_match
from arrs_kit.idempotency import KeyLease
from arrs_kit.pagination import decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from arrs_kit.problems import Unprocessable
from roles import repository as repo
from roles import rules
from roles.calendar import financial_year
from roles.errors import (
    FundingShareConflict,
    InvalidRoleDates,
    InvalidSupersession,
    RateBandMismatch,
    RatePeriodAlreadySuperseded,
    RatePeriodConflict,
    RoleExists,
    RoleNotFound,
    TemplateNotFound,
)
from roles.models import FundingShare, JobPlanTemplate, RatePeriod, Role, RoleCap, SupervisionRequirement
from roles.schemas import (
    CapPublic,
    CapUpsert,
    FundingShareCreate,
    FundingSharePublic,
    JobPlanTemplatePublic,
    JobPlanTemplateUpsert,
    KpiSuggestion,
    RatePeriodCreate,
    RatePeriodPublic,
    RoleCreate,
    RoleDetail,
    RoleSummary,
    RoleUpdate,
    SupervisionPublic,
    SupervisionUpsert,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _require_role(session: Session, code: str, *, for_update: bool = False) -> Role:
    role = repo.get_role(session, rules.normalise_code(code), for_update=for_update)
    if role is None:
        raise RoleNotFound(f"The catalogue has no role {code!r}.")
    return role


BY_MAX = 128  # the length of the created_by/updated_by columns


def _actor(principal: Principal) -> str:
    """Who a record says made a change: the client's display name, never its internal id (a login
    name at the token endpoint); cut to the columns' length."""
    return principal.actor[:BY_MAX]


def _summary(role: Role) -> RoleSummary:
    return RoleSummary.model_validate(role, from_attributes=True)


def list_roles(
    *, session: Session, claimable_on: date | None, cursor: str | None, limit: int
) -> tuple[list[RoleSummary], str | None]:
    """Roles ordered by code, optionally only those claimable on a day."""
    after = decode_cursor(cursor, str)
    rows = repo.list_roles(session, claimable_on=claimable_on, after_code=after[0] if after else None, limit=limit + 1)
    page, next_cursor = next_cursor_for(rows, limit, lambda r: (r.code,))
    return [_summary(r) for r in page], next_cursor


def _period_public(period: RatePeriod, ends: dict[int, date | None], superseded_by: dict[int, int]) -> RatePeriodPublic:
    assert period.id is not None
    return RatePeriodPublic.model_validate(
        {
            **period.model_dump(),
            "effective_to": ends.get(period.id),
            "status": "superseded" if period.id in superseded_by else "current",
            "superseded_by_id": superseded_by.get(period.id),
        }
    )


def _periods_public(periods: Sequence[RatePeriod]) -> list[RatePeriodPublic]:
    ends = rules.effective_to(periods)
    superseded_by = {p.supersedes_id: p.id for p in periods if p.supersedes_id is not None and p.id is not None}
    return [_period_public(p, ends, superseded_by) for p in periods]


def _share_public(share: FundingShare) -> FundingSharePublic:
    return FundingSharePublic(
        effective_from=share.effective_from,
        share=rules.bp_to_share(share.share_bp),
        max_share=rules.bp_to_share(share.max_share_bp) if share.max_share_bp is not None else None,
        rule=share.rule,
        source=share.source,
    )


def _supervision_public(row: SupervisionRequirement | None) -> SupervisionPublic | None:
    return SupervisionPublic.model_validate(row, from_attributes=True) if row is not None else None


def _representation(session: Session, role: Role) -> tuple[bytes, str]:
    """A role's answer, with its rate periods (current and superseded), shares, caps and supervision,
    as bytes, and its ETag: a digest of those bytes, so it moves with anything the answer shows (a new
    rate period or cap as well as an edit of the role); ``If-Match`` on an edit is checked against it."""
    detail = RoleDetail(
        **_summary(role).model_dump(),
        rate_periods=_periods_public(repo.list_periods(session, role.code)),
        funding_shares=[_share_public(s) for s in repo.list_shares(session, role.code)],
        caps=[CapPublic.model_validate(c, from_attributes=True) for c in repo.list_caps(session, role.code)],
        supervision=_supervision_public(repo.get_supervision(session, role.code)),
    )
    content = detail.model_dump_json(by_alias=True).encode()
    return content, body_etag(content)


def get_role(*, session: Session, code: str) -> tuple[bytes, str]:
    """One role's answer (JSON bytes) and its ETag."""
    return _representation(session, _require_role(session, code))


def create_role(*, session: Session, principal: Principal, data: RoleCreate) -> tuple[bytes, str]:
    if data.retired_on is not None and data.retired_on < data.added_on:
        raise InvalidRoleDates()
    if repo.get_role(session, data.code) is not None:
        raise RoleExists(f"Role {data.code!r} exists; change it with PATCH /v1/roles/{data.code}.")
    now = _now()
    session.add(Role(**data.model_dump(), version=1, created_at=now, updated_at=now))
    try:
        session.commit()
    except IntegrityError as exc:  # another admin created it between our check and our insert
        session.rollback()
        raise RoleExists(f"Role {data.code!r} exists; change it with PATCH /v1/roles/{data.code}.") from exc
    return get_role(session=session, code=data.code)


def update_role(
    *, session: Session, principal: Principal, code: str, data: RoleUpdate, if_match: str | None
) -> tuple[bytes, str]:
    role = _require_role(session, code, for_update=True)
    require_if_match(if_match, _representation(session, role)[1])
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "staff_group", "description"):
        if field in changes and changes[field] is None:
            raise Unprocessable(f"{field} cannot be null.")
    retired_on = changes.get("retired_on", role.retired_on)
    if retired_on is not None and retired_on < role.added_on:
        raise InvalidRoleDates()
    for field, value in changes.items():
        setattr(role, field, value)
    if changes:
        role.version += 1
        role.updated_at = _now()
    session.commit()
    return get_role(session=session, code=role.code)


def add_rate_period(
    *, session: Session, principal: Principal, code: str, data: RatePeriodCreate, lease: KeyLease | None = None
) -> RatePeriodPublic:
    """Append a rate period; with ``supersedes_id`` it corrects an existing one, which stays as history.

    The role row is locked first, so two admins adding the same period cannot both succeed.
    """
    role = _require_role(session, code, for_update=True)
    periods = repo.list_periods(session, role.code)
    current = rules.current_periods(periods)
    _check_band(role.code, current, data.afc_band)
    replaced: RatePeriod | None = None
    if data.supersedes_id is not None:
        replaced = next((p for p in periods if p.id == data.supersedes_id), None)
        if replaced is None or replaced.geography != data.geography or replaced.afc_band != data.afc_band:
            band = f" band {data.afc_band}" if data.afc_band else ""
            raise InvalidSupersession(
                f"Period {data.supersedes_id} is not a {data.geography}{band} period of {role.code}."
            )
        if replaced not in current:
            raise RatePeriodAlreadySuperseded(
                f"Period {replaced.id} has been corrected already; supersede the current correction instead."
            )
    clash = next(
        (
            p
            for p in current
            if p is not replaced
            and p.geography == data.geography
            and p.afc_band == data.afc_band
            and p.effective_from == data.effective_from
        ),
        None,
    )
    if clash is not None:
        raise RatePeriodConflict(
            f"Period {clash.id} ({clash.geography}, from {clash.effective_from}) is in the way; "
            f"to correct it, send supersedes_id={clash.id}.",
            extra={"conflicting_period_id": clash.id},
        )
    period = RatePeriod(
        role_code=role.code,
        geography=data.geography,
        afc_band=data.afc_band,
        effective_from=data.effective_from,
        annual_max_pence=data.annual_max_pence,
        provenance=data.provenance,
        source=data.source,
        basis=data.basis,
        note=data.note,
        supersedes_id=data.supersedes_id,
        created_at=_now(),
        created_by=_actor(principal),
    )
    session.add(period)
    session.flush()
    public = next(p for p in _periods_public([*periods, period]) if p.id == period.id)
    if lease is not None:
        lease.record(session, status=201, body=public.model_dump(mode="json"), location=f"/v1/roles/{role.code}")
    session.commit()
    return public


def _check_band(role_code: str, current: Sequence[RatePeriod], afc_band: str | None) -> None:
    """A role's periods are all banded (MHP, AP: domain §4) or none is: a period of the other kind
    would leave a claim unable to tell which applies."""
    if not current:
        return
    banded = any(p.afc_band is not None for p in current)
    if banded and afc_band is None:
        raise RateBandMismatch(f"{role_code} is paid by AfC band: give the period's afc_band.")
    if not banded and afc_band is not None:
        raise RateBandMismatch(f"{role_code} is not paid by AfC band: leave afc_band out.")


def add_funding_share(
    *, session: Session, principal: Principal, code: str, data: FundingShareCreate
) -> list[FundingSharePublic]:
    role = _require_role(session, code, for_update=True)
    if repo.get_share(session, role.code, data.effective_from) is not None:
        raise FundingShareConflict(f"{role.code} already has a funding share from {data.effective_from}.")
    share_bp = rules.share_to_bp(data.share)
    max_bp = rules.share_to_bp(data.max_share) if data.max_share is not None else None
    if max_bp is not None and max_bp < share_bp:
        raise Unprocessable("max_share must be at least share.", code="invalid-funding-share")
    session.add(
        FundingShare(
            role_code=role.code,
            effective_from=data.effective_from,
            share_bp=share_bp,
            max_share_bp=max_bp,
            rule=data.rule,
            source=data.source,
            created_at=_now(),
            created_by=_actor(principal),
        )
    )
    session.commit()
    return [_share_public(s) for s in repo.list_shares(session, role.code)]


M = TypeVar("M", RoleCap, SupervisionRequirement, JobPlanTemplate)


def _upsert(
    session: Session,
    model: type[M],
    existing: M | None,
    principal: Principal,
    keys: dict[str, Any],
    values: dict[str, Any],
) -> tuple[M, bool]:
    """Create the row or overwrite its values, stamping who and when; answers it and whether it is new."""
    stamp = {"updated_at": _now(), "updated_by": _actor(principal)}
    if existing is None:
        row = model.model_validate({**keys, **values, **stamp})
        session.add(row)
        return row, True
    for field, value in {**values, **stamp}.items():
        setattr(existing, field, value)
    return existing, False


def put_cap(*, session: Session, principal: Principal, code: str, fy: str, data: CapUpsert) -> tuple[CapPublic, bool]:
    """Set a role's cap for a financial year; answers the cap and whether it was new."""
    financial_year(fy)
    role = _require_role(session, code, for_update=True)
    cap, created = _upsert(
        session,
        RoleCap,
        repo.get_cap(session, role.code, fy),
        principal,
        {"role_code": role.code, "fy": fy},
        data.model_dump(),
    )
    session.commit()
    return CapPublic.model_validate(cap, from_attributes=True), created


def put_supervision(*, session: Session, principal: Principal, code: str, data: SupervisionUpsert) -> SupervisionPublic:
    role = _require_role(session, code, for_update=True)
    row, _ = _upsert(
        session,
        SupervisionRequirement,
        repo.get_supervision(session, role.code),
        principal,
        {"role_code": role.code},
        data.model_dump(),
    )
    session.commit()
    return SupervisionPublic.model_validate(row, from_attributes=True)


def get_template(*, session: Session, code: str) -> JobPlanTemplatePublic:
    role = _require_role(session, code)
    row = repo.get_template(session, role.code)
    if row is None:
        raise TemplateNotFound(f"{role.code} has no job-plan template yet.")
    return _template_public(row, repo.get_supervision(session, role.code))


def _template_public(row: JobPlanTemplate, supervision: SupervisionRequirement | None) -> JobPlanTemplatePublic:
    return JobPlanTemplatePublic(
        role_code=row.role_code,
        purpose=row.purpose,
        responsibilities=list(row.responsibilities),
        sessions_per_week_hint=row.sessions_per_week_hint,
        suggested_kpis=[KpiSuggestion.model_validate(k) for k in row.suggested_kpis],
        supervision=_supervision_public(supervision),
    )


def put_template(
    *, session: Session, principal: Principal, code: str, data: JobPlanTemplateUpsert
) -> JobPlanTemplatePublic:
    role = _require_role(session, code, for_update=True)
    row, _ = _upsert(
        session,
        JobPlanTemplate,
        repo.get_template(session, role.code),
        principal,
        {"role_code": role.code},
        data.model_dump(mode="json"),
    )
    session.commit()
    return _template_public(row, repo.get_supervision(session, role.code))
