"""HTTP endpoints of the organisation register: ICBs, PCNs, practices, weighted populations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.openapi import merge_responses, response_headers
from arrs_kit.pagination import (
    CSV_RESPONSE_DOC,
    DEFAULT_LIMIT,
    CursorQuery,
    FormatQuery,
    LimitQuery,
    page_or_csv,
)
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import (
    AuthorisedRoute,
    FyPath,
    IfMatchOptional,
    IfMatchRequired,
    LockedManagedPcn,
    PcnCodePath,
    PracticeCodePath,
    ReadablePcn,
    ReferenceDate,
)
from budget.schemas.common import ICB_CODE_PATTERN
from budget.schemas.register import (
    IcbCreate,
    IcbPage,
    IcbPublic,
    PcnCreate,
    PcnDetail,
    PcnPage,
    PcnUpdate,
    PracticePublic,
    WeightedPopulationPublic,
    WeightedPopulationPut,
)
from budget.service import organisations, weighted_populations

router = APIRouter(prefix="/v1", route_class=AuthorisedRoute)


@router.post(
    "/icbs",
    tags=["organisations"],
    operation_id="create_icb",
    summary="Register an ICB",
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
    summary="List ICBs",
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
    summary="Register a PCN",
    status_code=201,
    response_model=PcnDetail,
    responses=merge_responses(problem_responses(403, 409, 422), response_headers("ETag", on=(201,))),
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
    summary="List PCNs",
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
    summary="Get a PCN",
    response_model=PcnDetail,
    responses=merge_responses(problem_responses(404, 422), response_headers("ETag")),
)
def get_pcn(pcn_code: PcnCodePath, pcn: ReadablePcn, session: ReadSessionDep, response: Response) -> PcnDetail:
    """One PCN: its current practices with the day each joined, every membership past and present,
    its list size and its weighted population by financial year. Outside the client's scope: 404."""
    detail, etag = organisations.get_pcn(session=session, pcn=pcn)
    response.headers["ETag"] = etag
    return detail


@router.patch(
    "/pcns/{pcn_code}",
    tags=["organisations"],
    operation_id="update_pcn",
    summary="Edit a PCN",
    response_model=PcnDetail,
    responses=merge_responses(problem_responses(403, 404, 409, 412, 422, 428), response_headers("ETag")),
)
def update_pcn(
    pcn_code: PcnCodePath,
    data: PcnUpdate,
    pcn: LockedManagedPcn,
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
    detail, etag = organisations.update_pcn(session=session, principal=principal, pcn=pcn, data=data, if_match=if_match)
    response.headers["ETag"] = etag
    return detail


@router.put(
    "/pcns/{pcn_code}/weighted-populations/{fy}",
    tags=["organisations"],
    operation_id="put_weighted_population",
    summary="Set a PCN's weighted population",
    response_model=WeightedPopulationPublic,
    responses=merge_responses(problem_responses(403, 404, 412, 422), response_headers("ETag")),
)
def put_weighted_population(
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: WeightedPopulationPut,
    reference_date: ReferenceDate,
    pcn: LockedManagedPcn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatchOptional = None,
) -> WeightedPopulationPublic:
    """Admin or the PCN's ICB: set the PCN's weighted population for a financial year, counted on
    1 January before it starts (`reference_date`). A new value replaces the old one, which stays in
    `history`; sending the same value again changes nothing."""
    public, etag = weighted_populations.put_weighted_population(
        session=session,
        principal=principal,
        pcn=pcn,
        fy=fy,
        reference_date=reference_date,
        data=data,
        if_match=if_match,
    )
    response.headers["ETag"] = etag
    return public


@router.get(
    "/practices/{practice_code}",
    tags=["organisations"],
    operation_id="get_practice",
    summary="Get a GP practice's PCN and ICB",
    response_model=PracticePublic,
    responses=problem_responses(404, 422),
)
def get_practice(practice_code: PracticeCodePath, session: ReadSessionDep, principal: PrincipalDep) -> PracticePublic:
    """The PCN and ICB a GP practice belongs to now, and every PCN it has been in. Visible to admins,
    national dashboards, the practice's ICB (and its dashboard), its PCN, and a practice system bound
    to it; otherwise 404."""
    return organisations.get_practice(session=session, principal=principal, code=practice_code)
