"""HTTP endpoints of the budget service.

Claims are in :mod:`budget.claim_routes`. Resources it owns at the gateway: "/v1/icbs", "/v1/pcns",
"/v1/practices", "/v1/funding-rates",
"/v1/posts", "/v1/claims".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader, run_idempotent
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    DEFAULT_LIMIT,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    page_or_csv,
)
from arrs_kit.principal import AdminDep, PrincipalDep, ReaderDep
from arrs_kit.problems import problem_responses
from budget.claim_routes import CatalogueDep
from budget.schemas import (
    ICB_CODE_PATTERN,
    PCN_CODE_PATTERN,
    PRACTICE_CODE_PATTERN,
    AllocateResult,
    AllocationCreate,
    AllocationPublic,
    BudgetPage,
    BudgetPublic,
    FundingRatePage,
    FundingRatePublic,
    FundingRatePut,
    IcbCreate,
    IcbPage,
    IcbPublic,
    PcnCreate,
    PcnDetail,
    PcnPage,
    PcnUpdate,
    PostCreate,
    PostingPage,
    PostPage,
    PostPublic,
    PostUpdate,
    PracticePublic,
    WeightedPopulationPublic,
    WeightedPopulationPut,
    YearClosePublic,
)
from budget.service import budgets, funding_rates, organisations, posts, weighted_populations

router = APIRouter(prefix="/v1")

PcnCodePath = Annotated[
    str, Path(pattern=PCN_CODE_PATTERN, description="PCN code, `U` and 5 digits (any case).", examples=["U12345"])
]
PracticeCodePath = Annotated[
    str,
    Path(
        pattern=PRACTICE_CODE_PATTERN,
        description="Practice code, a letter and 5 digits (any case).",
        examples=["A81001"],
    ),
]
FyPath = Annotated[str, Path(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])]
IfMatchRequired = Annotated[str | None, Header(description="The ETag you last read (required).")]
IfMatchOptional = Annotated[
    str | None, Header(description="The ETag you last read; when sent, the change is refused if it is stale.")
]


@router.post(
    "/icbs",
    tags=["organisations"],
    operation_id="create_icb",
    status_code=201,
    response_model=IcbPublic,
    responses=problem_responses(403, 409, 422),
)
def create_icb(data: IcbCreate, session: WriteSessionDep, principal: PrincipalDep) -> IcbPublic:
    """Admin: add an Integrated Care Board to the register."""
    return organisations.create_icb(session=session, principal=principal, data=data)


@router.get(
    "/icbs",
    tags=["organisations"],
    operation_id="list_icbs",
    response_model=IcbPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_icbs(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> IcbPage | Response:
    """ICBs ordered by code. Admins and national dashboards see all; an ICB client or an ICB's
    dashboard its own ICB; a PCN client the ICB of its PCN. Practice systems may not list."""
    items, next_cursor = organisations.list_icbs(session=session, principal=principal, cursor=cursor, limit=limit)
    return page_or_csv(request, format, IcbPage(data=items, next_cursor=next_cursor), filename="icbs")


@router.post(
    "/pcns",
    tags=["organisations"],
    operation_id="create_pcn",
    status_code=201,
    response_model=PcnDetail,
    responses=problem_responses(403, 409, 422),
)
def create_pcn(data: PcnCreate, session: WriteSessionDep, principal: PrincipalDep, response: Response) -> PcnDetail:
    """Admin, or an ICB client for its own ICB: add a PCN with its member practices. A practice that
    is a current member of another PCN is refused (409 `practice-in-another-pcn`, naming that PCN only
    to an admin or that PCN's ICB). An ICB client naming another ICB: 403."""
    detail, etag = organisations.create_pcn(session=session, principal=principal, data=data)
    response.headers["ETag"] = etag
    response.headers["Location"] = f"/v1/pcns/{detail.code}"
    return detail


@router.get(
    "/pcns",
    tags=["organisations"],
    operation_id="list_pcns",
    response_model=PcnPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_pcns(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    icb_code: Annotated[
        str | None, Query(pattern=ICB_CODE_PATTERN, description="Only the PCNs of this ICB (any case).")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> PcnPage | Response:
    """PCNs ordered by code, with their current practices. Admins and national dashboards see all;
    an ICB client or an ICB's dashboard the PCNs of its ICB; a PCN client itself. Practice systems
    may not list."""
    items, next_cursor = organisations.list_pcns(
        session=session, principal=principal, icb_code=icb_code, cursor=cursor, limit=limit
    )
    return page_or_csv(request, format, PcnPage(data=items, next_cursor=next_cursor), filename="pcns")


@router.get(
    "/pcns/{pcn_code}",
    tags=["organisations"],
    operation_id="get_pcn",
    response_model=PcnDetail,
    responses=problem_responses(404, 422),
)
def get_pcn(pcn_code: PcnCodePath, session: ReadSessionDep, principal: PrincipalDep, response: Response) -> PcnDetail:
    """One PCN: its current practices with the day each joined, every membership past and present,
    its list size and its weighted population by financial year. Outside the client's scope: 404."""
    detail, etag = organisations.get_pcn(session=session, principal=principal, code=pcn_code)
    response.headers["ETag"] = etag
    return detail


@router.patch(
    "/pcns/{pcn_code}",
    tags=["organisations"],
    operation_id="update_pcn",
    response_model=PcnDetail,
    responses=problem_responses(403, 404, 409, 412, 422, 428),
)
def update_pcn(
    pcn_code: PcnCodePath,
    data: PcnUpdate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatchRequired = None,
) -> PcnDetail:
    """Admin or the PCN's ICB: rename the PCN, set its list size, or replace its practice list. Needs
    `If-Match` with the PCN's ETag. Practices left out of a new list leave as of `effective_date`
    (default today in England; their last day is the day before) and new ones join on it; the
    memberships they end stay in the history. A PCN the client may not read: 404, as for no such
    PCN; one it reads but may not change (the PCN itself, a dashboard): 403."""
    detail, etag = organisations.update_pcn(
        session=session, principal=principal, code=pcn_code, data=data, if_match=if_match
    )
    response.headers["ETag"] = etag
    return detail


@router.put(
    "/pcns/{pcn_code}/weighted-populations/{fy}",
    tags=["organisations"],
    operation_id="put_weighted_population",
    response_model=WeightedPopulationPublic,
    responses=problem_responses(403, 404, 412, 422),
)
def put_weighted_population(
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: WeightedPopulationPut,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatchOptional = None,
) -> WeightedPopulationPublic:
    """Admin or the PCN's ICB: set the PCN's weighted population for a financial year, counted on
    1 January before it starts (`reference_date`). A new value replaces the old one, which stays in
    `history`; sending the same value again changes nothing."""
    public, etag = weighted_populations.put_weighted_population(
        session=session, principal=principal, code=pcn_code, fy=fy, data=data, if_match=if_match
    )
    response.headers["ETag"] = etag
    return public


@router.get(
    "/practices/{practice_code}",
    tags=["organisations"],
    operation_id="get_practice",
    response_model=PracticePublic,
    responses=problem_responses(404, 422),
)
def get_practice(practice_code: PracticeCodePath, session: ReadSessionDep, principal: PrincipalDep) -> PracticePublic:
    """The PCN and ICB a GP practice belongs to now, and every PCN it has been in. Visible to admins,
    national dashboards, the practice's ICB (and its dashboard), its PCN, and a practice system bound
    to it; otherwise 404."""
    return organisations.get_practice(session=session, principal=principal, code=practice_code)


# Funding rates


@router.get(
    "/funding-rates",
    tags=["funding-rates"],
    operation_id="list_funding_rates",
    response_model=FundingRatePage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_funding_rates(
    request: Request,
    session: ReadSessionDep,
    principal: ReaderDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> FundingRatePage | Response:
    """The ARRS rates per weighted patient by financial year, in pounds as decimal strings (exact),
    and the ring-fenced ARRS GP rate where a year has one. Any client but a practice system."""
    items, next_cursor = funding_rates.list_funding_rates(session=session, cursor=cursor, limit=limit)
    return page_or_csv(request, format, FundingRatePage(data=items, next_cursor=next_cursor), filename="funding-rates")


@router.put(
    "/funding-rates/{fy}",
    tags=["funding-rates"],
    operation_id="put_funding_rate",
    response_model=FundingRatePublic,
    responses={201: {"model": FundingRatePublic, "description": "Created"}, **problem_responses(403, 412, 422)},
)
def put_funding_rate(
    fy: FyPath,
    data: FundingRatePut,
    session: WriteSessionDep,
    principal: AdminDep,
    if_match: IfMatchOptional = None,
) -> JSONResponse:
    """Admin: set a financial year's rates per weighted patient (pounds, up to 3 decimals, as
    strings). 201 when the year had none, 200 when they replace (or repeat) its rates. Budgets
    already allocated change only when `allocate` is called again."""
    public, etag, created = funding_rates.put_funding_rate(
        session=session, principal=principal, fy=fy, data=data, if_match=if_match
    )
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if created else 200, headers={"ETag": etag})


# Budgets and the ledger


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/allocate",
    tags=["budgets"],
    operation_id="allocate_budget",
    response_model=AllocateResult,
    responses={201: {"model": AllocateResult, "description": "Sums posted"}, **problem_responses(403, 404, 409, 422)},
)
def allocate_budget(
    pcn_code: PcnCodePath, fy: FyPath, session: WriteSessionDep, principal: PrincipalDep
) -> JSONResponse:
    """Admin or the PCN's ICB: compute the financial year's sums, round_half_up(rate per weighted
    patient × the PCN's weighted population at 1 January before the FY), for `arrs` and, where the
    year has a GP rate, `arrs_gp`, and post them to the ledger. 201 when something was posted; 200
    with the same body when nothing changed (calling again is safe, no `Idempotency-Key` needed).
    After a corrected rate or weighted population it posts the difference (a reduction needs that
    much available: 409 `budget-exceeded`). 422 `weighted-population-missing` or
    `funding-rate-missing` when an input is absent."""
    result, posted = budgets.allocate(session=session, principal=principal, code=pcn_code, fy=fy)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if posted else 200)


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/allocations",
    tags=["budgets"],
    operation_id="add_allocation",
    status_code=201,
    response_model=AllocationPublic,
    responses=problem_responses(403, 404, 409, 422),
)
def add_allocation(
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: AllocationCreate,
    request: Request,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AllocationPublic | JSONResponse:
    """The PCN's ICB (or an admin): record an allocation by amount with its reason: a top-up
    (positive `amount_pence`) or a reduction (negative; never more than is available, 409
    `budget-exceeded`, nothing written). With an `Idempotency-Key`, a retry replays the first answer
    instead of posting twice; the same key with another body is 422 `idempotency-key-reused`."""
    result = run_idempotent(
        store=request.app.state.idempotency,
        db=request.app.state.db,
        session=session,
        principal_id=principal.client_id,
        operation=f"add_allocation:{pcn_code.upper()}:{fy}",
        key=idempotency_key,
        method="POST",
        path=request.url.path,
        payload=data.model_dump(mode="json"),
        work=lambda claim: budgets.add_allocation(
            session=session,
            principal=principal,
            code=pcn_code,
            fy=fy,
            data=data,
            claim=claim,
            idempotency_key=idempotency_key,
        ),
    )
    if isinstance(result, AllocationPublic):
        response.headers["Location"] = f"/v1/pcns/{result.posting.pcn_code}/ledger"
    return result


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/close",
    tags=["budgets"],
    operation_id="close_budget_year",
    response_model=YearClosePublic,
    responses=problem_responses(403, 404, 409, 422),
)
def close_budget_year(
    pcn_code: PcnCodePath,
    fy: FyPath,
    request: Request,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> YearClosePublic | JSONResponse:
    """The PCN's ICB (or an admin), after 31 March: close the financial year. What is still
    available in each pot lapses (`available` → `lapsed` on the ledger); unused money is not carried
    forward. Claims still held or approved keep their money; a hold released later (a rejection or
    withdrawal after the close) returns to `available`, and closing again lapses it. Answers what
    lapsed now and the pots after. 422 `financial-year-not-ended` before the year is over. With an
    `Idempotency-Key` a retry replays the first answer."""
    return run_idempotent(
        store=request.app.state.idempotency,
        db=request.app.state.db,
        session=session,
        principal_id=principal.client_id,
        operation=f"close_budget_year:{pcn_code.upper()}:{fy}",
        key=idempotency_key,
        method="POST",
        path=request.url.path,
        payload=None,
        work=lambda claim: budgets.close_year(
            session=session,
            principal=principal,
            code=pcn_code,
            fy=fy,
            claim=claim,
            idempotency_key=idempotency_key,
        ),
    )


@router.get(
    "/pcns/{pcn_code}/budgets/{fy}",
    tags=["budgets"],
    operation_id="get_budget",
    response_model=BudgetPublic,
    responses=problem_responses(404, 422),
)
def get_budget(pcn_code: PcnCodePath, fy: FyPath, session: ReadSessionDep, principal: PrincipalDep) -> BudgetPublic:
    """A PCN's budget for a financial year: per pot, what has been allocated, held by submitted
    claims, approved, paid and lapsed, and what is available. Outside the client's scope: 404."""
    return budgets.get_budget(session=session, principal=principal, code=pcn_code, fy=fy)


@router.get(
    "/budgets",
    tags=["budgets"],
    operation_id="list_budgets",
    response_model=BudgetPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
)
def list_budgets(
    request: Request,
    session: ReadSessionDep,
    principal: ReaderDep,
    fy: Annotated[
        str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])
    ],
    icb_code: Annotated[
        str | None, Query(pattern=ICB_CODE_PATTERN, description="Only the PCNs of this ICB (any case).")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> BudgetPage | Response:
    """Every PCN's budget for a financial year, by PCN code (an ICB's dashboards and scorecards read
    them in one call): the PCNs the client may see, optionally of one ICB."""
    items, next_cursor = budgets.list_budgets(
        session=session, principal=principal, fy=fy, icb_code=icb_code, cursor=cursor, limit=limit
    )
    return page_or_csv(request, format, BudgetPage(data=items, next_cursor=next_cursor), filename="budgets")


@router.get(
    "/pcns/{pcn_code}/ledger",
    tags=["budgets"],
    operation_id="list_ledger",
    response_model=PostingPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(404, 422)},
)
def list_ledger(
    pcn_code: PcnCodePath,
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    fy: Annotated[
        str | None, Query(min_length=7, max_length=7, description="Only this financial year (`YYYY-YY`).")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    format: FormatQuery = None,
) -> PostingPage | Response:
    """A PCN's ledger postings, oldest first: each moves `amount_pence` from `debit_account` to
    `credit_account` of one pot, with its kind, reason and who posted it. Outside scope: 404."""
    items, next_cursor = budgets.list_ledger(
        session=session, principal=principal, code=pcn_code, fy=fy, cursor=cursor, limit=limit
    )
    page = PostingPage(data=items, next_cursor=next_cursor)
    return page_or_csv(request, format, page, filename=f"ledger-{pcn_code.upper()}")


# Posts

PostIdPath = Annotated[int, Path(ge=1, le=2_147_483_647, description="The post's id.", examples=[1])]


@router.post(
    "/posts",
    tags=["posts"],
    operation_id="create_post",
    status_code=201,
    response_model=PostPublic,
    responses=problem_responses(403, 404, 422, 503),
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
    response_model=PostPage,
    responses={**CSV_RESPONSE_DOC, **problem_responses(403, 422)},
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
    list. Filters combine: a PCN, an ICB's PCNs, a role."""
    items, next_cursor = posts.list_posts(
        session=session,
        principal=principal,
        pcn_code=pcn_code,
        icb_code=icb_code,
        role_code=role_code,
        cursor=cursor,
        limit=limit,
    )
    return page_or_csv(request, format, PostPage(data=items, next_cursor=next_cursor), filename="posts")


@router.get(
    "/posts/{post_id}",
    tags=["posts"],
    operation_id="get_post",
    response_model=PostPublic,
    responses=problem_responses(404, 422),
)
def get_post(post_id: PostIdPath, session: ReadSessionDep, principal: PrincipalDep, response: Response) -> PostPublic:
    """One post, with its ETag. Outside the client's scope: 404 `post-not-found`."""
    public, etag = posts.get_post(session=session, principal=principal, post_id=post_id)
    response.headers["ETag"] = etag
    return public


@router.patch(
    "/posts/{post_id}",
    tags=["posts"],
    operation_id="update_post",
    response_model=PostPublic,
    responses=problem_responses(403, 404, 412, 422, 428),
)
def update_post(
    post_id: PostIdPath,
    data: PostUpdate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatchRequired = None,
) -> PostPublic:
    """The post's PCN, or an admin: change a post. Needs `If-Match` with the post's ETag (missing:
    428, stale: 412). `pcn_code` and `role_code` cannot change (a new role is a new post). A post the
    client may not read: 404 `post-not-found`, as for no such post; one it reads but may not change
    (its ICB, a dashboard): 403. A change of `employment_model` or `employer_code` is checked as on
    creation (422 `employer-not-in-pcn`)."""
    public, etag = posts.update_post(
        session=session, principal=principal, post_id=post_id, data=data, if_match=if_match
    )
    response.headers["ETag"] = etag
    return public
