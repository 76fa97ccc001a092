"""A post's dated terms (domain §6): hours, AfC band, geography, employment and practices change by a
new set with its ``effective_from``, never by an edit, so a backdated claim is computed on the terms
that were in force (in segments, when a month spans a change)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from sqlalchemy.orm import Session

from arrs_kit.principal import Principal
from arrs_kit.problems import ProblemError
from budget.domain import hours
from budget.models import Post, PostTerms
from budget.repository import posts as posts_repo
from budget.schemas.posts import PostTermsCreate, PostTermsPublic
from budget.service import common


class PostTermsExist(ProblemError):
    status, code, title = 409, "post-terms-exist", "A set of the post's terms starts on that day"


class TermsOutsidePost(ProblemError):
    status, code, title = 422, "terms-outside-post", "New terms start within the post's dates"


class PostTermsAreDated(ProblemError):
    status, code, title = 422, "post-terms-are-dated", "A post's terms change by a new dated set, not an edit"


def terms_public(terms: Sequence[PostTerms]) -> list[PostTermsPublic]:
    """The sets, oldest first, each with the day before the next as its end."""
    ordered = sorted(terms, key=lambda t: t.effective_from)
    return [
        PostTermsPublic(
            effective_from=t.effective_from,
            effective_to=following.effective_from - timedelta(days=1) if following is not None else None,
            hours_per_week=hours.centi_to_hours(t.hours_per_week_centi),
            wte=hours.wte_of(t.hours_per_week_centi),
            afc_band=t.afc_band,
            geography=t.geography,
            employment_model=t.employment_model,
            employer_code=t.employer_code,
            practice_codes=list(t.practice_codes),
            reason=t.reason,
            created_at=t.created_at,
            created_by=t.created_by,
        )
        for t, following in zip(ordered, [*ordered[1:], None], strict=True)
    ]


def first_terms(post: Post, principal: Principal) -> PostTerms:
    """A new post's terms, from its start."""
    return PostTerms(
        post_id=cast(int, post.id),
        effective_from=post.start_date,
        hours_per_week_centi=post.hours_per_week_centi,
        afc_band=post.afc_band,
        geography=post.geography,
        employment_model=post.employment_model,
        employer_code=post.employer_code,
        practice_codes=list(post.practice_codes),
        reason=None,
        created_at=post.created_at,
        created_by=common.actor(principal),
    )


def refuse_term_edits(post_id: int | None, fields: set[str], term_fields: Sequence[str]) -> None:
    """A PATCH of a dated term is refused, pointing to the endpoint that adds a set."""
    edited = sorted(fields & set(term_fields))
    if edited:
        raise PostTermsAreDated(
            f"{', '.join(edited)} {'is a' if len(edited) == 1 else 'are'} dated term{'s' if len(edited) > 1 else ''}"
            f" of the post: add a set of terms with its effective_from, POST /v1/posts/{post_id}/terms.",
            extra={"fields": edited, "endpoint": f"/v1/posts/{post_id}/terms"},
        )


def build_terms(session: Session, principal: Principal, post: Post, data: PostTermsCreate) -> tuple[PostTerms, Post]:
    """A new set of terms for a locked post (fields left out carry over from the set in force the day
    before), and the post as those terms make it, for the post's rules to be checked on. Nothing is
    written."""
    if data.effective_from < post.start_date or (post.leave_date is not None and data.effective_from > post.leave_date):
        until = f" to {post.leave_date}" if post.leave_date else ""
        raise TermsOutsidePost(f"Post {post.id} runs from {post.start_date}{until}; {data.effective_from} is outside.")
    existing = list(posts_repo.terms_of(session, post.id))
    if any(t.effective_from == data.effective_from for t in existing):
        raise PostTermsExist(
            f"A set of post {post.id}'s terms starts on {data.effective_from}; give another day.",
            extra={"effective_from": data.effective_from.isoformat()},
        )
    earlier = [t for t in existing if t.effective_from < data.effective_from]
    before = max(earlier, key=lambda t: t.effective_from) if earlier else min(existing, key=lambda t: t.effective_from)
    given = data.model_fields_set
    new = PostTerms(
        post_id=cast(int, post.id),
        effective_from=data.effective_from,
        hours_per_week_centi=hours.hours_to_centi(data.hours_per_week)
        if data.hours_per_week is not None
        else before.hours_per_week_centi,
        afc_band=data.afc_band if "afc_band" in given else before.afc_band,
        geography=data.geography or before.geography,
        employment_model=data.employment_model or before.employment_model,
        employer_code=data.employer_code or before.employer_code,
        practice_codes=sorted(data.practice_codes) if data.practice_codes is not None else list(before.practice_codes),
        reason=data.reason,
        created_at=common.now(),
        created_by=common.actor(principal),
    )
    as_terms_make_it = Post.model_validate(
        post.model_dump()
        | {name: getattr(new, name) for name in TERM_COLUMNS}
        | {"practice_codes": list(new.practice_codes)}
    )
    return new, as_terms_make_it


TERM_COLUMNS = ("hours_per_week_centi", "afc_band", "geography", "employment_model", "employer_code")


def apply_terms(session: Session, post: Post, new: PostTerms) -> list[PostTerms]:
    """Write the new set; the post's own fields follow its latest set. Answers every set, oldest first."""
    existing = list(posts_repo.terms_of(session, post.id))
    session.add(new)
    if all(t.effective_from < new.effective_from for t in existing):
        for name in TERM_COLUMNS:
            setattr(post, name, getattr(new, name))
        post.practice_codes = list(new.practice_codes)
    post.version += 1
    post.updated_at = new.created_at
    post.updated_by = new.created_by
    session.flush()
    return sorted([*existing, new], key=lambda t: t.effective_from)
