"""PCN scorecards, composed at the gateway from the three services (domain.md §7).

Every part is read from its service **as the caller**: the request is signed with the caller's own
principal, so each service applies its own scope, and a PCN the caller may not see is 404 here as
there. The calls go out concurrently, each with ``GATEWAY_SCORECARD_TIMEOUT_S``. A service that is
down, slow or failing leaves its parts out: the scorecard still answers 200 and names each missing
part and why in ``parts_missing``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from arrs_kit.principal import Principal
from gateway.reads import Got, NotReachable

if TYPE_CHECKING:
    from gateway.main import Gateway

WTE_HOURS = Decimal("37.5")
EVALUATION_PARTS = ("kpi_attainment", "at_risk_posts", "workload_shift", "true_cost", "readiness")


@dataclass(frozen=True, slots=True)
class Answer:
    """One upstream read: its JSON (when 200), else its status (0: no answer) and why."""

    upstream: str
    status: int
    body: Any = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


class Reader:
    """GETs from the services as one caller, for one scorecard request."""

    def __init__(self, gateway: Gateway, principal: Principal, request_id: str) -> None:
        self.gateway = gateway
        self.principal = principal
        self.request_id = request_id
        self.timeout_s = gateway.settings.scorecard_timeout_s

    async def get(self, upstream: str, path: str, params: dict[str, Any] | None = None) -> Answer:
        query = urlencode(params or {})
        headers = [
            ("x-request-id", self.request_id),
            *self.gateway.signer.for_request(self.principal, path, query, self.request_id),
        ]
        try:
            # The whole exchange, body included, within the part's time (whatever the transport).
            async with asyncio.timeout(self.timeout_s):
                got = await self.gateway.getters[upstream].get(path, query, headers)
        except TimeoutError:
            return Answer(upstream, 0, reason=f"the {upstream} service did not answer in time")
        except NotReachable as exc:
            return Answer(upstream, 0, reason=f"the {upstream} service is not reachable ({exc.kind})")
        if got.status != 200:
            return Answer(upstream, got.status, reason=_reason(upstream, got))
        try:
            return Answer(upstream, 200, orjson.loads(got.content))
        except ValueError:  # orjson's JSONDecodeError is one
            return Answer(upstream, 502, reason=f"the {upstream} service answered something unreadable")


def _reason(upstream: str, got: Got) -> str:
    try:
        problem = orjson.loads(got.content)
        kind = str(problem.get("type", "")).removeprefix("/problems/") if isinstance(problem, dict) else ""
    except ValueError:
        kind = ""
    return f"the {upstream} service answered {got.status}" + (f" ({kind})" if kind else "")


def missing(part: str, answer: Answer) -> dict[str, Any]:
    return {"part": part, "upstream": answer.upstream, "status": answer.status or None, "reason": answer.reason}


def posts_by_role(posts: list[dict[str, Any]], names: dict[str, str], today: str) -> list[dict[str, Any]]:
    """Per role: posts in post on ``today`` and their WTE (hours ÷ 37.5, to 2 places)."""
    roles: dict[str, list[dict[str, Any]]] = {}
    for post in posts:
        if post["start_date"] <= today and (post.get("leave_date") is None or post["leave_date"] >= today):
            roles.setdefault(post["role_code"], []).append(post)
    return [
        {
            "role_code": role,
            "role_name": names.get(role),
            "posts_in_post": len(held),
            "wte": str(
                sum((Decimal(p["hours_per_week"]) / WTE_HOURS for p in held), Decimal(0)).quantize(Decimal("0.01"))
            ),
        }
        for role, held in sorted(roles.items())
    ]


async def pcn_scorecard(reader: Reader, pcn_code: str, fy: str, today: str) -> tuple[int, dict[str, Any]]:
    """The scorecard, and 404 when the budget service says the caller has no such PCN."""
    pcn, budget, forecast, posts, roles, evaluation = await asyncio.gather(
        reader.get("budget", f"/v1/pcns/{pcn_code}"),
        reader.get("budget", f"/v1/pcns/{pcn_code}/budgets/{fy}"),
        reader.get("budget", f"/v1/pcns/{pcn_code}/forecast", {"fy": fy}),
        reader.get("budget", "/v1/posts", {"pcn_code": pcn_code, "limit": 500}),
        reader.get("roles", "/v1/roles", {"limit": 500}),
        reader.get("evaluation", f"/v1/evaluations/pcns/{pcn_code}/summary", {"fy": fy, "as_of": today}),
    )
    if pcn.status == 404:
        return 404, {}
    gaps: list[dict[str, Any]] = []
    card: dict[str, Any] = {"pcn_code": pcn_code, "fy": fy, "as_of": today}
    if pcn.ok:
        card |= {"pcn_name": pcn.body["name"], "icb_code": pcn.body["icb_code"], "list_size": pcn.body["list_size"]}
    else:
        card |= {"pcn_name": None, "icb_code": None, "list_size": None}
        gaps.append(missing("pcn", pcn))
    card["budget"] = budget.body["pots"] if budget.ok else None
    if not budget.ok:
        gaps.append(missing("budget", budget))
    card["forecast"] = forecast.body["pots"] if forecast.ok else None
    if not forecast.ok:
        gaps.append(missing("forecast", forecast))
    names = {r["code"]: r["name"] for r in roles.body["data"]} if roles.ok else {}
    if not roles.ok:
        gaps.append(missing("role_names", roles))
    card["posts_by_role"] = posts_by_role(posts.body["data"], names, today) if posts.ok else None
    if not posts.ok:
        gaps.append(missing("posts_by_role", posts))
    for part, key in zip(
        EVALUATION_PARTS, ("kpi_attainment", "at_risk", "workload_shift", "true_cost", "readiness"), strict=True
    ):
        card[part] = evaluation.body[key] if evaluation.ok else None
        if not evaluation.ok:
            gaps.append(missing(part, evaluation))
    card["parts_missing"] = gaps
    return 200, card


def _pots_total(pots: list[dict[str, Any]], field: str) -> int:
    return sum(int(p[field]) for p in pots)


async def icb_rows(
    reader: Reader, icb_code: str, fy: str, today: str, limit: int, cursor: str | None
) -> tuple[Answer, list[dict[str, Any]], list[dict[str, Any]]]:
    """A page of the ICB's PCNs, one scorecard row each, with the parts that could not be read.

    Two reads: the budget service's page of the ICB's PCN budgets (the PCNs themselves, their names and
    list sizes, in scope and paged as ``GET /v1/pcns`` pages them) and the evaluation service's summary
    of every PCN of the ICB. The page is the budget service's: without it there is no list."""
    page_params: dict[str, Any] = {
        "fy": fy,
        "icb_code": icb_code,
        "limit": limit,
        **({"cursor": cursor} if cursor else {}),
    }
    budgets, evaluations = await asyncio.gather(
        reader.get("budget", "/v1/budgets", page_params),
        reader.get("evaluation", "/v1/evaluations/pcn-summaries", {"icb_code": icb_code, "as_of": today, "limit": 500}),
    )
    if not budgets.ok:
        return budgets, [], []
    gaps = []
    judged = {r["pcn_code"]: r for r in evaluations.body["data"]} if evaluations.ok else {}
    if not evaluations.ok:
        gaps.append(missing("evaluation", evaluations))
    rows = []
    for pcn in budgets.body["data"]:
        pots = pcn["pots"]
        seen = judged.get(pcn["pcn_code"])
        rows.append(
            {
                "pcn_code": pcn["pcn_code"],
                "pcn_name": pcn["pcn_name"],
                "list_size": pcn["list_size"],
                "allocated_pence": _pots_total(pots, "allocated_pence"),
                "available_pence": _pots_total(pots, "available_pence"),
                "paid_pence": _pots_total(pots, "paid_pence"),
                "posts_in_post": seen["posts_evaluated"] if seen else None,
                "posts_at_risk": seen["posts_at_risk"] if seen else None,
                "flagged_posts": seen["flagged_posts"] if seen else None,
                "overdue_kpis": seen["overdue_kpis"] if seen else None,
                "readiness_percent_in_place": seen["readiness_percent_in_place"] if seen else None,
            }
        )
    return budgets, rows, gaps
