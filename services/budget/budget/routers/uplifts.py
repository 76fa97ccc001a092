"""HTTP endpoint of rate uplifts applied to a PCN's paid claims (domain §6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from arrs_kit.db import WriteSessionDep
from arrs_kit.idempotency import IdempotencyKeyHeader
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from budget.deps import AdjustingPcn, AuthorisedRoute, CatalogueDep, FyPath, PcnCodePath
from budget.leases import Leased, with_key
from budget.schemas.uplifts import UpliftCreate, UpliftPublic
from budget.service.claims import uplifts

router = APIRouter(prefix="/v1", route_class=AuthorisedRoute)


async def _uplift_lease(
    request: Request,
    pcn_code: PcnCodePath,
    fy: FyPath,
    data: UpliftCreate,
    session: WriteSessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Leased[UpliftCreate]:
    return with_key(
        request,
        session,
        principal,
        idempotency_key if data.apply else None,  # a preview writes nothing: nothing to replay
        data,
        operation=f"apply_uplift:{pcn_code.upper()}:{fy}",
        payload=data.model_dump(mode="json"),
        fy=fy,
    )


UpliftLease = Annotated[Leased[UpliftCreate], Depends(_uplift_lease)]


@router.post(
    "/pcns/{pcn_code}/budgets/{fy}/uplifts",
    tags=["claims"],
    operation_id="apply_uplift",
    summary="Apply a backdated rate uplift",
    response_model=UpliftPublic,
    responses={
        201: {"model": UpliftPublic, "description": "Adjustments made"},
        **problem_responses(403, 404, 409, 422, 503),
    },
)
def apply_uplift(
    pcn_code: PcnCodePath,
    fy: FyPath,
    leased: UpliftLease,
    pcn: AdjustingPcn,
    session: WriteSessionDep,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    response: Response,
) -> UpliftPublic:
    """The PCN, its ICB or an admin: apply a backdated rate uplift to the year's paid claims. Give the
    superseding rate period (in the roles service, it names the period it corrects) and the posts the
    PCN confirms the uplift was passed on to. Each paid claim of those posts computed on the superseded
    period is computed again on the new one, with its recorded amounts; `apply: false` previews both
    computations and the difference, `apply: true` makes one adjustment per claim with a difference
    (submitted for the ICB's decision, as any adjustment): 201 when it made one, 200 otherwise. Asking
    again creates nothing new: a claim already at the new amount has no difference, one whose
    adjustment awaits a decision says so. Paid claims of posts not confirmed are listed, untouched.
    422 `uplift-not-applicable` for a period that supersedes none or posts of another PCN. With an
    `Idempotency-Key`, a retry of an applied uplift replays its first answer."""
    public, made = uplifts.apply_uplift(
        session=session, catalogue=catalogue, principal=principal, pcn=pcn, fy=fy, data=leased.data, lease=leased.lease
    )
    response.status_code = 201 if made else 200
    return public
