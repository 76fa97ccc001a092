"""HTTP endpoints of posts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.etag import NOT_MODIFIED_DOC, none_match
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    DEFAULT_LIMIT,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    page_or_csv,
    wants_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import (
    AuthorisedRoute,
    CatalogueDep,
    IfMatchRequired,
    OwnedPost,
    PostIdPath,
    ReadablePost,
)
from budget.schemas.common import ICB_CODE_PATTERN, PCN_CODE_PATTERN
from budget.schemas.posts import PostCreate, PostPage, PostPublic, PostTermsCreate, PostUpdate
from budget.service import posts

router = APIRouter(prefix="/v1", route_class=AuthorisedRoute)


@router.post(
    "/posts",
    tags=["posts"],
    operation_id="create_post",
    summary="Add a post",
    status_code=201,
    response_model=PostPublic,
    responses=merge_responses(problem_responses(403, 404, 422, 503), response_headers("ETag", on=(201,))),
)
def create_post(
    data: PostCreate, session: WriteSessionDep, principal: PrincipalDep, catalogue: CatalogueDep, response: Response
) -> PostPublic:
    """A PCN client for its own PCN, or an admin: add a post (one person in one role). The role must
    be one the role catalogue has (422 `unknown-role`; 503 `roles-unavailable` when the catalogue
    cannot be read); the practices served must be current members of the PCN (422
    `practice-not-in-pcn`); a post employed by a practice (`pcn_lead_practice`, `member_practice`)
    is employed by a current member practice of the PCN (422 `employer-not-in-pcn`); a funding share
    override is for mental health practitioner posts only (422 `funding-share-not-allowed`);
    `leave_date` is on or after `start_date` (422 `invalid-leave-date`). Another PCN's posts: 403."""
    public, etag = posts.create_post(session=session, catalogue=catalogue, principal=principal, data=data)
    response.headers["ETag"] = etag
    response.headers["Location"] = f"/v1/posts/{public.id}"
    return public


@router.get(
    "/posts",
    tags=["posts"],
    operation_id="list_posts",
    summary="List posts",
    response_model=PostPage,
    responses=merge_responses(
        {**CSV_RESPONSE_DOC, 304: NOT_MODIFIED_DOC, **problem_responses(403, 422)},
        response_headers("ETag", on=(200, 304)),
    ),
)
def list_posts(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    pcn_code: Annotated[
        str | None, Query(pattern=PCN_CODE_PATTERN, description="Only the posts of this PCN (any case).")
    ] = None,
    icb_code: Annotated[
        str | None, Query(pattern=ICB_CODE_PATTERN, description="Only the posts of this ICB's PCNs (any case).")
    ] = None,
    role_code: Annotated[
        str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,63}$", description="Only the posts of this role.")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> PostPage | Response:
    """Posts in the order they were added. Admins and national dashboards see all; an ICB client or
    an ICB's dashboard the posts of its ICB's PCNs; a PCN client its own. Practice systems may not
    list. Filters combine: a PCN, an ICB's PCNs, a role.

    The JSON page carries a weak `ETag`; sent back as `If-None-Match`, an unchanged page is answered
    304 with no body, from the posts' ids and versions alone (a poller's cheap check)."""
    listing = posts.post_listing(
        principal=principal, pcn_code=pcn_code, icb_code=icb_code, role_code=role_code, cursor=cursor, limit=limit
    )
    as_csv = wants_csv(request, format)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and not as_csv:
        etag = posts.list_posts_etag(session=session, listing=listing)
        if none_match(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag})
    items, next_cursor, etag = posts.list_posts(session=session, listing=listing)
    response = page_or_csv(request, format, PostPage(data=items, next_cursor=next_cursor), filename="posts")
    if not as_csv:
        response.headers["ETag"] = etag
    return response


@router.get(
    "/posts/{post_id}",
    tags=["posts"],
    operation_id="get_post",
    summary="Get a post",
    response_model=PostPublic,
    responses=merge_responses(problem_responses(404, 422), response_headers("ETag")),
)
def get_post(post_id: PostIdPath, post: ReadablePost, session: ReadSessionDep, response: Response) -> PostPublic:
    """One post, with every set of its terms and its ETag. Outside the client's scope: 404 `post-not-found`."""
    public, etag = posts.get_post(session=session, post=post)
    response.headers["ETag"] = etag
    return public


@router.patch(
    "/posts/{post_id}",
    tags=["posts"],
    operation_id="update_post",
    summary="Edit a post",
    response_model=PostPublic,
    responses=merge_responses(problem_responses(403, 404, 412, 422, 428), response_headers("ETag")),
)
def update_post(
    post_id: PostIdPath,
    post: OwnedPost,
    data: PostUpdate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatchRequired = None,
) -> PostPublic:
    """The post's PCN, or an admin: change a post. Needs `If-Match` with the post's ETag (missing:
    428, stale: 412). `pcn_code` and `role_code` cannot change (a new role is a new post). The dated
    terms (`hours_per_week`, `afc_band`, `geography`, `employment_model`, `employer_code`,
    `practice_codes`) change only by a new set from a day, `POST /v1/posts/{post_id}/terms`: a patch of
    any of them is 422 `post-terms-are-dated`. A post the client may not read: 404 `post-not-found`, as
    for no such post; one it reads but may not change (its ICB, a dashboard): 403."""
    public, etag = posts.update_post(session=session, principal=principal, post=post, data=data, if_match=if_match)
    response.headers["ETag"] = etag
    return public


@router.post(
    "/posts/{post_id}/terms",
    tags=["posts"],
    operation_id="add_post_terms",
    summary="Add dated terms to a post",
    response_model=PostPublic,
    status_code=201,
    responses=merge_responses(problem_responses(403, 404, 409, 422, 503), response_headers("ETag", on=(201,))),
)
def add_post_terms(
    post_id: PostIdPath,
    post: OwnedPost,
    data: PostTermsCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    response: Response,
) -> PostPublic:
    """The post's PCN, or an admin: a new set of the post's terms (hours, AfC band, geography,
    employment model and employer, practices served) from `effective_from`, within the post's dates.
    Fields left out keep their value in the set in force the day before. Never an edit of the past: a
    claim month that spans the change is computed in segments, one per set, each shown in the claim.
    The post's own fields show its latest set. 409 `post-terms-exist` when a set starts that day; 422
    `terms-outside-post`, `practice-not-in-pcn`, `employer-not-in-pcn`, `afc-band-required`."""
    public, etag = posts.add_post_terms(session=session, catalogue=catalogue, principal=principal, post=post, data=data)
    response.headers["ETag"] = etag
    response.headers["Location"] = f"/v1/posts/{post_id}"
    return public
