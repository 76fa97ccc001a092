"""Who may see and change what, loaded and checked once per request as dependencies (domain.md §8).

A post, a KPI (through its post) or a PCN exists for a caller only if the budget service shows it to
that caller: it is read **on behalf of the caller**, so the budget service's scope rules decide, and
anything outside scope is the same 404 as anything that does not exist (practice systems see no
post or PCN, so they get 404 too, as from the budget service). Among what a caller can see, only its
PCN (or an admin) changes job plans, KPIs, measurements and readiness: an ICB or a dashboard that can
see them gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from arrs_kit.db import ReadSessionDep
from arrs_kit.principal import Principal, PrincipalDep, kinds_allowed
from arrs_kit.problems import Forbidden
from evaluation.clients.budget import BudgetClient, Pcn, Post
from evaluation.errors import KpiNotFound, PcnNotFound, PostNotFound
from evaluation.jobplans import repository
from evaluation.jobplans.models import Kpi
from evaluation.kinds import MANAGERS, READERS

PostIdPath = Annotated[int, Path(ge=1, le=2_147_483_647, description="The post's id (budget service).")]
KpiIdPath = Annotated[int, Path(ge=1, le=2_147_483_647, description="The KPI's id.")]
PcnCodePath = Annotated[str, Path(pattern=r"^[Uu][0-9]{5}$", description="PCN code, `U` + 5 digits (any case).")]


ReaderDep = Annotated[
    Principal,
    Depends(
        kinds_allowed(READERS, "A practice-system client may only post workload and list sizes for its own practices.")
    ),
]


def budget_of(request: Request) -> BudgetClient:
    client: BudgetClient = request.app.state.budget
    return client


def _may_manage(principal: Principal, what: str) -> None:
    if principal.kind not in MANAGERS:
        raise Forbidden(f"Only the PCN (or an admin) changes {what}; this client may read them.")


def visible_post(post_id: PostIdPath, principal: PrincipalDep, request: Request) -> Post:
    post = budget_of(request).post(principal, post_id)
    if post is None:
        raise PostNotFound(f"No post {post_id}.")
    return post


VisiblePost = Annotated[Post, Depends(visible_post)]


def managed_post(post: VisiblePost, principal: PrincipalDep) -> Post:
    _may_manage(principal, "a post's job plan, KPIs and measurements")
    return post


ManagedPost = Annotated[Post, Depends(managed_post)]


@dataclass(frozen=True, slots=True)
class KpiInScope:
    kpi: Kpi
    post: Post


def visible_kpi(kpi_id: KpiIdPath, principal: PrincipalDep, request: Request, session: ReadSessionDep) -> KpiInScope:
    kpi = repository.kpi(session, kpi_id)
    post = budget_of(request).post(principal, kpi.post_id) if kpi is not None else None
    if kpi is None or post is None:
        raise KpiNotFound(f"No KPI {kpi_id}.")
    return KpiInScope(kpi, post)


VisibleKpi = Annotated[KpiInScope, Depends(visible_kpi)]


def managed_kpi(found: VisibleKpi, principal: PrincipalDep) -> KpiInScope:
    _may_manage(principal, "a post's KPIs and measurements")
    return found


ManagedKpi = Annotated[KpiInScope, Depends(managed_kpi)]


def visible_pcn(pcn_code: PcnCodePath, principal: PrincipalDep, request: Request) -> Pcn:
    pcn = budget_of(request).pcn(principal, pcn_code.upper())
    if pcn is None:
        raise PcnNotFound(f"No PCN {pcn_code.upper()}.")
    return pcn


VisiblePcn = Annotated[Pcn, Depends(visible_pcn)]


def managed_pcn(pcn: VisiblePcn, principal: PrincipalDep) -> Pcn:
    _may_manage(principal, "a PCN's readiness")
    return pcn


ManagedPcn = Annotated[Pcn, Depends(managed_pcn)]
