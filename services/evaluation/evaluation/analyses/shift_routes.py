"""HTTP endpoints of the workload shift: for a post, and for a role in a PCN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from arrs_kit.db import ReadSessionDep
from arrs_kit.principal import PrincipalDep
from arrs_kit.problems import problem_responses
from evaluation.access import VisiblePcn, VisiblePost, budget_of
from evaluation.analyses import shift
from evaluation.analyses.routers import AsOfQuery
from evaluation.analyses.schemas import WorkloadShift
from evaluation.clock import today_in_england
from evaluation.errors import PcnNotFound

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

WeeksQuery = Annotated[int, Query(ge=1, le=52, description="Weeks in each window, before and after the start week.")]
RoleCodePath = Annotated[
    str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,63}$", description="Role code, e.g. `clinical_pharmacist`.")
]


@router.get(
    "/posts/{post_id}/workload-shift",
    operation_id="get_post_workload_shift",
    summary="Workload shift after a post started",
    response_model=WorkloadShift,
    responses=problem_responses(403, 404, 422, 503),
)
def get_post_workload_shift(
    post: VisiblePost,
    principal: PrincipalDep,
    request: Request,
    session: ReadSessionDep,
    weeks: WeeksQuery = 12,
    as_of: AsOfQuery = None,
) -> WorkloadShift:
    """Did GP attended appointments per 1,000 patients fall at the practices the post serves after it
    started, beyond the change at comparable practices of the same ICB without such a post? The
    difference-in-differences estimate with its Welch standard error, degrees of freedom and 95%
    interval; the uncontrolled before/after; the GP share of appointments before and after; the
    role's own appointments per WTE per week; the windows and the caveats. Without enough data,
    `estimate` is null with a `reason`."""
    budget = budget_of(request)
    pcn = budget.pcn(principal, post.pcn_code)
    if pcn is None:  # pragma: no cover - a post the caller sees has a PCN it sees
        raise PcnNotFound(f"No PCN {post.pcn_code}.")
    result = shift.workload_shift(
        session=session,
        budget=budget,
        role_code=post.role_code,
        icb_code=pcn.icb_code,
        start=post.start_date,
        treated=post.practice_codes,
        wte=shift.post_wte([post]),
        weeks=weeks,
        today=as_of or today_in_england(),
    )
    return result.model_copy(update={"post_id": post.id, "pcn_code": post.pcn_code})


@router.get(
    "/pcns/{pcn_code}/roles/{role_code}/workload-shift",
    operation_id="get_role_workload_shift",
    summary="Workload shift of a role in a PCN",
    response_model=WorkloadShift,
    responses=problem_responses(403, 404, 422, 503),
)
def get_role_workload_shift(
    pcn: VisiblePcn,
    role_code: RoleCodePath,
    principal: PrincipalDep,
    request: Request,
    session: ReadSessionDep,
    weeks: WeeksQuery = 12,
    as_of: AsOfQuery = None,
) -> WorkloadShift:
    """The same evidence for a role in a PCN: from the start of the PCN's first post of the role, at
    every practice a post of the role served in the weeks after (their WTE summed)."""
    today = as_of or today_in_england()
    role = role_code.lower()
    posts = [p for p in budget_of(request).posts(principal, pcn_code=pcn.code) if p.role_code == role]
    if not posts:
        return shift.no_posts(pcn_code=pcn.code, role_code=role, weeks=weeks, today=today)
    start = min(p.start_date for p in posts)
    windows = shift.windows_for(start, weeks)
    after = [p for p in posts if shift.active(p, windows.after_first, windows.after_last)]
    result = shift.workload_shift(
        session=session,
        budget=budget_of(request),
        role_code=role,
        icb_code=pcn.icb_code,
        start=start,
        treated=sorted({code for p in after for code in p.practice_codes}),
        wte=shift.post_wte(after),
        weeks=weeks,
        today=today,
    )
    return result.model_copy(update={"pcn_code": pcn.code})
