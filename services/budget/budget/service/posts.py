"""Posts (domain §6): one person in one role in one PCN. A PCN manages its own posts (and an admin
any); its ICB and dashboards read them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import cast

from sqlalchemy.orm import Session

from arrs_kit.etag import list_etag, make_etag, require_if_match
from arrs_kit.pagination import next_cursor_for
from arrs_kit.principal import Principal
from budget.clients.roles import RoleCatalogue
from budget.domain import hours
from budget.errors import (
    AfcBandRequired,
    EmployerNotInPcn,
    FundingShareNotAllowed,
    InvalidLeaveDate,
    PcnNotFound,
    PracticeNotInPcn,
    UnknownRole,
)
from budget.models import COST_FIELDS, Post, PostTerms
from budget.repository import posts as posts_repo
from budget.repository import register as register_repo
from budget.repository.posts import PostListing
from budget.schemas.posts import (
    TERM_FIELDS,
    PostCreate,
    PostPublic,
    PostTermsCreate,
    PostUpdate,
    Supervisor,
    UnfundedCosts,
)
from budget.service import authz, common, post_terms
from budget.service.claims.compute import MHP_ROLES

PRACTICE_EMPLOYED = frozenset({"pcn_lead_practice", "member_practice"})
"""Employment models whose employer is one of the PCN's own practices: a current member (today, as
for the practices a post serves), checked when a post is made and when a patch changes its
employment model or employer. A practice that leaves later does not make the post's other edits
fail; the next change of employer is checked again."""


LIST_REPRESENTATION = "post-list-v1"
"""Part of every post list's ETag: change it when what a listed post shows changes shape, so that a
client's kept page is not confirmed by a 304 after such a release."""


def post_etag(post: Post) -> str:
    return make_etag("post", str(post.id), post.version)


def _public(post: Post, terms: Sequence[PostTerms]) -> PostPublic:
    assert post.id is not None
    return PostPublic(
        terms=post_terms.terms_public(terms),
        id=post.id,
        pcn_code=post.pcn_code,
        role_code=post.role_code,
        afc_band=post.afc_band,
        geography=post.geography,
        hours_per_week=hours.centi_to_hours(post.hours_per_week_centi),
        wte=hours.wte_of(post.hours_per_week_centi),
        start_date=post.start_date,
        leave_date=post.leave_date,
        employment_model=post.employment_model,
        employer_code=post.employer_code,
        practice_codes=list(post.practice_codes),
        supervisor=Supervisor(name=post.supervisor_name, role=post.supervisor_role),
        baseline=post.baseline,
        funding_share=post.funding_share,
        staff_reference=post.staff_reference,
        display_name=post.display_name,
        unfunded_costs_monthly_pence=UnfundedCosts(**{f: getattr(post, f"cost_{f}_pence") for f in COST_FIELDS}),
        created_at=post.created_at,
        created_by=post.created_by,
        updated_at=post.updated_at,
        updated_by=post.updated_by,
    )


def _check(session: Session, post: Post, *, practice_codes: Collection[str] | None, employer_changed: bool) -> None:
    """The rules that need more than one field, or the database: run on create and after a patch."""
    if post.leave_date is not None and post.leave_date < post.start_date:
        raise InvalidLeaveDate(f"leave_date {post.leave_date} is before start_date {post.start_date}.")
    if post.funding_share is not None and post.role_code not in MHP_ROLES:
        raise FundingShareNotAllowed(
            f"Role {post.role_code} has no funding share override; only {', '.join(sorted(MHP_ROLES))} do."
        )
    if practice_codes is None and not (employer_changed and post.employment_model in PRACTICE_EMPLOYED):
        return
    current = {m.practice_code for m in register_repo.open_memberships_of_pcns(session, [post.pcn_code])}
    if practice_codes is not None:
        outside = sorted(set(practice_codes) - current)
        if outside:
            raise PracticeNotInPcn(f"{', '.join(outside)} not a current member practice of PCN {post.pcn_code}.")
    if employer_changed and post.employment_model in PRACTICE_EMPLOYED and post.employer_code not in current:
        # Only the caller's own input and its own PCN are named, whoever the code belongs to.
        raise EmployerNotInPcn(
            f"employer_code {post.employer_code} is not a current member practice of PCN {post.pcn_code}; a "
            f"{post.employment_model} post is employed by one of the PCN's practices.",
            extra={"employer_code": post.employer_code, "employment_model": post.employment_model},
        )


def _check_role(catalogue: RoleCatalogue, role_code: str, afc_band: str | None) -> None:
    """The role must be one the catalogue has (503 ``roles-unavailable`` when it cannot be read), and a
    post has an AfC band unless its role has none (the ARRS GP)."""
    role = catalogue.role(role_code)
    if role is None:
        raise UnknownRole(f"The role catalogue has no role {role_code}.", extra={"role_code": role_code})
    if afc_band is None and role.afc_band is not None:
        raise AfcBandRequired(
            f"{role_code} is an AfC band {role.afc_band} role: give the post's band. Only a role with no AfC "
            "band (the ARRS GP) takes afc_band null.",
            extra={"role_code": role_code},
        )


def _set_costs(post: Post, costs: UnfundedCosts) -> None:
    for field in COST_FIELDS:
        setattr(post, f"cost_{field}_pence", getattr(costs, field))


def create_post(
    *, session: Session, catalogue: RoleCatalogue, principal: Principal, data: PostCreate
) -> tuple[PostPublic, str]:
    """A PCN (for itself) or an admin: add a post of a role the catalogue has, employed (when by a
    practice) by a current member practice of the PCN."""
    authz.require_post_creator(principal, pcn_code=data.pcn_code)
    _check_role(catalogue, data.role_code, data.afc_band)  # before any database read: no connection waits on it
    if register_repo.get_pcn(session, data.pcn_code) is None:
        raise PcnNotFound(authz.NO_PCN)
    now = common.now()
    post = Post(
        pcn_code=data.pcn_code,
        role_code=data.role_code,
        afc_band=data.afc_band,
        geography=data.geography,
        hours_per_week_centi=hours.hours_to_centi(data.hours_per_week),
        start_date=data.start_date,
        leave_date=data.leave_date,
        employment_model=data.employment_model,
        employer_code=data.employer_code,
        practice_codes=sorted(data.practice_codes),
        supervisor_name=data.supervisor.name,
        supervisor_role=data.supervisor.role,
        baseline=data.baseline,
        funding_share=data.funding_share,
        staff_reference=data.staff_reference,
        display_name=data.display_name,
        version=1,
        created_at=now,
        created_by=common.actor(principal),
        updated_at=now,
        updated_by=common.actor(principal),
    )
    _set_costs(post, data.unfunded_costs_monthly_pence)
    _check(session, post, practice_codes=data.practice_codes, employer_changed=True)
    session.add(post)
    session.flush()
    terms = post_terms.first_terms(post, principal)
    session.add(terms)
    session.commit()
    return _public(post, [terms]), post_etag(post)


def get_post(*, session: Session, post: Post) -> tuple[PostPublic, str]:
    """One readable post and its ETag."""
    return _public(post, posts_repo.terms_of(session, post.id)), post_etag(post)


def post_listing(
    *,
    principal: Principal,
    pcn_code: str | None,
    icb_code: str | None,
    role_code: str | None,
    cursor: str | None,
    limit: int,
) -> PostListing:
    """The posts a list asks for, within the principal's scope (codes as stored)."""
    return PostListing(
        scope=authz.list_scope(principal),
        page_size=limit,
        pcn_code=common.normalise_code(pcn_code) if pcn_code else None,
        icb_code=common.normalise_code(icb_code) if icb_code else None,
        role_code=role_code.lower() if role_code else None,
        after_id=common.after_id(cursor),
    )


def list_posts(*, session: Session, listing: PostListing) -> tuple[list[PostPublic], str | None, str]:
    """A page of posts in id order, with its weak ETag (:func:`list_posts_etag`)."""
    rows = posts_repo.list_posts(session, listing)
    page, next_cursor = next_cursor_for(rows, listing.page_size, lambda r: (r.id,))
    etag = _page_etag([(cast(int, p.id), p.version) for p in page], next_cursor)
    terms = posts_repo.terms_of_posts(session, [cast(int, p.id) for p in page])
    return [_public(p, terms.get(cast(int, p.id), [])) for p in page], next_cursor, etag


def list_posts_etag(*, session: Session, listing: PostListing) -> str:
    """The weak ETag of the page :func:`list_posts` would answer, from its posts' ids and versions alone
    (a post's version counts every change of what it shows): for ``If-None-Match``."""
    rows = posts_repo.list_post_versions(session, listing)
    page, next_cursor = next_cursor_for(rows, listing.page_size, lambda r: (r[0],))
    return _page_etag(page, next_cursor)


def _page_etag(rows: Sequence[tuple[int, int]], next_cursor: str | None) -> str:
    return list_etag("posts", (LIST_REPRESENTATION, *rows, next_cursor))


def update_post(
    *, session: Session, principal: Principal, post: Post, data: PostUpdate, if_match: str | None
) -> tuple[PostPublic, str]:
    """The post's PCN or an admin (``post`` locked, :data:`budget.deps.OwnedPost`): change any field
    but ``pcn_code``, ``role_code`` and the dated terms (422 ``post-terms-are-dated``)."""
    require_if_match(if_match, post_etag(post))
    post_terms.refuse_term_edits(post.id, data.model_fields_set, TERM_FIELDS)
    terms = posts_repo.terms_of(session, post.id)
    before = _public(post, terms)
    fields = data.model_fields_set
    for name in ("start_date", "leave_date", "baseline", "funding_share", "staff_reference", "display_name"):
        if name in fields:
            setattr(post, name, getattr(data, name))
    if data.supervisor is not None:
        post.supervisor_name, post.supervisor_role = data.supervisor.name, data.supervisor.role
    if data.unfunded_costs_monthly_pence is not None:
        _set_costs(post, data.unfunded_costs_monthly_pence)
    _check(session, post, practice_codes=None, employer_changed=False)
    if _public(post, terms).model_dump(exclude={"updated_at", "updated_by"}) != before.model_dump(
        exclude={"updated_at", "updated_by"}
    ):
        post.version += 1
        post.updated_at = common.now()
        post.updated_by = common.actor(principal)
    session.commit()
    return _public(post, terms), post_etag(post)


def add_post_terms(
    *, session: Session, catalogue: RoleCatalogue, principal: Principal, post: Post, data: PostTermsCreate
) -> tuple[PostPublic, str]:
    """The post's PCN or an admin (``post`` locked): a new set of its terms from ``effective_from``.
    The rules of a new post run on the post as the terms make it (practices and employer are current
    members of the PCN; no AfC band only for a role without one)."""
    new, as_made = post_terms.build_terms(session, principal, post, data)
    if "afc_band" in data.model_fields_set and data.afc_band is None:
        _check_role(catalogue, post.role_code, None)
    _check(
        session,
        as_made,
        practice_codes=data.practice_codes,
        employer_changed=bool(data.model_fields_set & {"employment_model", "employer_code"}),
    )
    terms = post_terms.apply_terms(session, post, new)
    session.commit()
    return _public(post, terms), post_etag(post)
