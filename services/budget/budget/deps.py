"""What the budget service's routes depend on, defined once: path and query types, ``If-Match``, the
role catalogue client and the resources a route acts on, loaded and authorised (domain §8), with the
route class that loads them (:class:`AuthorisedRoute`); the ``Idempotency-Key`` leases of the writes
that take one are in :mod:`budget.leases`. A route's signature says what it acts on and whether a
retry of it is safe."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Body, Depends, Header, Path, Query, Request
from fastapi.routing import APIRoute
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from arrs_kit.db import ReadSessionDep, WriteSessionDep
from arrs_kit.etag import IfMatchHeader
from arrs_kit.principal import Principal, PrincipalDep
from arrs_kit.problems import ProblemError
from budget.clients.roles import RoleCatalogue
from budget.domain import register
from budget.domain.calendar import InvalidFinancialYear
from budget.models import Claim, Pcn, Post
from budget.schemas.claims import ClaimWithdraw
from budget.schemas.common import PCN_CODE_PATTERN, PRACTICE_CODE_PATTERN
from budget.service import authz
from budget.service.common import ID_MAX

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
PostIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The post's id.", examples=[1])]
# The claim paths take `{claim_id:int}` (digits only), so `/v1/claims/preview` is never read as a claim id:
# `GET` or `PATCH /v1/claims/preview` is 405, not a 422 about the id. A path that is no id at all is 404.
ClaimIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The claim's id.", examples=[1])]

# Optional, yet a named schema (not `ClaimWithdraw | null`) for client generators: no body is `{}`.
WithdrawBody = Annotated[ClaimWithdraw, Body(default_factory=ClaimWithdraw)]

FyQuery = Annotated[
    str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY` (required).", examples=["2024-25"])
]

IfMatchRequired = IfMatchHeader
IfMatchOptional = Annotated[
    str | None, Header(description="The ETag you last read; when sent, the change is refused if it is stale.")
]
IfMatchPlan = Annotated[
    str | None,
    Header(description="The plan's ETag you last read: required to replace a plan, absent to create the first one."),
]


async def _catalogue(request: Request) -> RoleCatalogue:
    """A coroutine: it does no I/O, and a plain function dependency would cost a worker-thread hop."""
    catalogue: RoleCatalogue = request.app.state.catalogue
    return catalogue


CatalogueDep = Annotated[RoleCatalogue, Depends(_catalogue)]
"""The role catalogue's client, made once per app (:func:`budget.main.create_app`)."""


M = TypeVar("M")
T = TypeVar("T")


# The resources a route acts on, loaded once and authorised by the rules of :mod:`budget.service.authz`
# (domain §8). A read route takes the read session's row; a write route the writer's (locked where
# the rule says).
#
# Each answers as the request stood before: a malformed request is 422 whatever it names. So these
# dependencies do no I/O: they read their path parameters as sent (the route's own parameters
# validate them, once) and hand :class:`AuthorisedRoute` what to load (:class:`Deferred`), which it
# loads in the route's worker thread once FastAPI found the request well formed: one thread hop per
# request, not one more per resource. They are loaded in the order of the route's parameters, after
# its ``Idempotency-Key`` (:mod:`budget.leases`): the key is taken before the resource is read and
# locked, so a duplicate is told 409 at once, not queued on the resource's lock.


@dataclass(frozen=True, slots=True)
class Refused:
    """A path parameter the request cannot name, or a financial year that is none: raised by
    :class:`AuthorisedRoute` once the request is known to be well formed (``error`` None: it is not,
    and FastAPI says so)."""

    error: ProblemError | None = None


class Deferred:
    """A dependency's value that is read in the route's worker thread: :class:`AuthorisedRoute` calls
    :meth:`resolve` and hands the route what it answers (or the error it raises), and calls
    :meth:`abandon` if the request then fails."""

    __slots__ = ()

    def resolve(self) -> Any:
        raise NotImplementedError

    def abandon(self) -> None:
        """Undo what :meth:`resolve` took that the failed request's rollback does not (nothing, here)."""


@dataclass(frozen=True, slots=True)
class Load(Deferred, Generic[M]):
    """A resource, loaded and authorised by ``load`` when the route runs."""

    load: Callable[[], M]

    def resolve(self) -> M:
        return self.load()


def _deferred(sent: T | None, load: Callable[[T], M]) -> Load[M] | Refused:
    return Refused() if sent is None else Load(lambda: load(sent))


# The path parameters as the routes validate them (the same constraints as PcnCodePath and the ids).
_PCN_CODE = TypeAdapter(Annotated[str, StringConstraints(pattern=PCN_CODE_PATTERN)])
_ID = TypeAdapter(Annotated[int, Field(ge=1, le=ID_MAX)])


def _sent_pcn_code(request: Request) -> str | None:
    try:
        return _PCN_CODE.validate_python(request.path_params.get("pcn_code"))
    except ValidationError:
        return None


def _sent_id(request: Request, name: str) -> int | None:
    try:
        return _ID.validate_python(request.path_params.get(name))
    except ValidationError:
        return None


async def _reference_date(request: Request) -> date | Refused:
    """The day a financial year's weighted population is counted; 422 ``invalid-financial-year``
    (checked before the PCN is looked up)."""
    fy = str(request.path_params.get("fy", ""))
    if len(fy) != 7:
        return Refused()
    try:
        return register.reference_date_for(fy)
    except ValueError as exc:
        return Refused(InvalidFinancialYear(str(exc)))


ReferenceDate = Annotated[date, Depends(_reference_date)]


async def _readable_pcn(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> Load[Pcn] | Refused:
    return _deferred(_sent_pcn_code(request), lambda code: authz.readable_pcn(session, principal, code))


async def _managed_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Load[Pcn] | Refused:
    return _deferred(
        _sent_pcn_code(request), lambda code: authz.managed_pcn(session, principal, code, for_update=False)
    )


async def _locked_managed_pcn(
    request: Request, session: WriteSessionDep, principal: PrincipalDep
) -> Load[Pcn] | Refused:
    return _deferred(_sent_pcn_code(request), lambda code: authz.managed_pcn(session, principal, code, for_update=True))


async def _own_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Load[Pcn] | Refused:
    return _deferred(_sent_pcn_code(request), lambda code: authz.own_pcn(session, principal, code))


async def _adjusting_pcn(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Load[Pcn] | Refused:
    return _deferred(_sent_pcn_code(request), lambda code: authz.adjusting_pcn(session, principal, code))


ReadablePcn = Annotated[Pcn, Depends(_readable_pcn)]
"""A PCN the principal may read (404 otherwise)."""
ManagedPcn = Annotated[Pcn, Depends(_managed_pcn)]
"""A PCN the principal manages (an admin, its ICB): its budget. Not locked; the pots' rows are."""
LockedManagedPcn = Annotated[Pcn, Depends(_locked_managed_pcn)]
"""A PCN the principal manages, locked for the request's transaction: the PCN itself and its populations."""
OwnPcn = Annotated[Pcn, Depends(_own_pcn)]
"""The principal's own PCN (or any, for an admin): its workforce plans."""
AdjustingPcn = Annotated[Pcn, Depends(_adjusting_pcn)]
"""A PCN whose paid claims its PCN, its ICB or an admin adjusts (an uplift)."""

_NOT_POST_OWNER = "Only an admin or the post's PCN may change a post."


async def _readable_post(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> Load[Post] | Refused:
    return _deferred(_sent_id(request, "post_id"), lambda post_id: authz.readable_post(session, principal, post_id))


async def _owned_post(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Load[Post] | Refused:
    return _deferred(
        _sent_id(request, "post_id"),
        lambda post_id: authz.owned_post(session, principal, post_id, for_update=True, forbidden=_NOT_POST_OWNER),
    )


ReadablePost = Annotated[Post, Depends(_readable_post)]
OwnedPost = Annotated[Post, Depends(_owned_post)]
"""A post its PCN (or an admin) changes, locked."""


def written_by_id(name: str, rule: Callable[[Session, Principal, int], M]) -> Callable[..., Any]:
    """A dependency loading the resource whose id is the path's ``name`` for a write (the rule locks
    it and checks the principal may act on it), in the route's worker thread (:class:`AuthorisedRoute`)."""

    async def load(request: Request, session: WriteSessionDep, principal: PrincipalDep) -> Load[M] | Refused:
        return _deferred(_sent_id(request, name), lambda found: rule(session, principal, found))

    return load


def read_by_id(name: str, rule: Callable[[Session, Principal, int], M]) -> Callable[..., Any]:
    """As :func:`written_by_id`, on the read session, for a resource the principal reads."""

    async def load(request: Request, session: ReadSessionDep, principal: PrincipalDep) -> Load[M] | Refused:
        return _deferred(_sent_id(request, name), lambda found: rule(session, principal, found))

    return load


def _claim_by(rule: Callable[[Session, Principal, int], Claim]) -> Callable[..., Any]:
    return written_by_id("claim_id", rule)


ReadableClaim = Annotated[Claim, Depends(read_by_id("claim_id", authz.readable_claim))]
PcnClaim = Annotated[Claim, Depends(_claim_by(authz.pcn_claim))]
"""A claim its PCN (or an admin) edits, submits or withdraws, locked."""
IcbClaim = Annotated[Claim, Depends(_claim_by(authz.icb_claim))]
"""A claim its PCN's ICB (or an admin) approves, rejects or pays, locked."""
AdjustableClaim = Annotated[Claim, Depends(_claim_by(authz.adjustable_claim))]
"""A claim its PCN, its ICB or an admin corrects, locked."""


class AuthorisedRoute(APIRoute):
    """A route whose resource dependencies and ``Idempotency-Key`` are loaded and taken
    (:class:`Deferred`) in its own worker thread, in the order of its parameters, and whose refusals
    (:class:`Refused`) are raised, only once FastAPI found the request well formed: a malformed request
    is 422 whatever it names, as it always was. If the request then fails, what was taken is given
    back (:meth:`Deferred.abandon`: a key released) in that thread, before the error is answered."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        @functools.wraps(endpoint)
        def checked(**values: Any) -> Any:
            for value in values.values():
                if isinstance(value, Refused):
                    if value.error is None:  # the dependency and the route disagree on what is well formed
                        raise RuntimeError(f"{path}: a request the route validated was refused as malformed")
                    raise value.error
            try:
                resolved = {name: v.resolve() if isinstance(v, Deferred) else v for name, v in values.items()}
                return endpoint(**resolved)
            except BaseException:
                for value in values.values():
                    if isinstance(value, Deferred):
                        value.abandon()
                raise

        super().__init__(path, checked, **kwargs)
