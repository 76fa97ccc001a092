"""What the demo reads from the platform before the load (the catalogue, the rates in force, the
funding rates it needs) and after it (the examples it shows and their workload-shift evidence)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from tools.demo import generate as gen
from tools.demo.http import Api, LoadError, check
from tools.demo.state import State


async def catalogue(api: Api, on: date) -> list[gen.RoleInfo]:
    """The roles claimable on ``on``, each with its job-plan template, from the roles service."""
    page = check(await api.call("GET", "/v1/roles", params={"claimable_on": on.isoformat(), "limit": 500}), 200)
    roles = []
    for row in page.json()["data"]:
        template = await api.call("GET", f"/v1/roles/{row['code']}/job-plan-template")
        roles.append(
            gen.RoleInfo(
                code=row["code"],
                name=row["name"],
                added_on=date.fromisoformat(row["added_on"]),
                template=template.json() if template.status_code == 200 else None,
            )
        )
    return roles


async def rated_roles(api: Api, months: Iterable[str]) -> dict[str, set[str]]:
    """For each claim month, the roles with a national rate in force on its 1st (claims for the
    others would be refused ``rate-not-published``: the demo makes none)."""
    out = {}
    for month in months:
        params = {"month": month, "geography": "national", "limit": 500}
        rows = check(await api.call("GET", "/v1/rates", params=params), 200).json()["data"]
        out[month] = {r["role_code"] for r in rows}
    return out


async def funding_rates(api: Api) -> None:
    """The budgets need the funding rates of 2023-24 and 2024-25 (seeded): refuse to start without."""
    rows = check(await api.call("GET", "/v1/funding-rates", params={"limit": 500}), 200).json()["data"]
    missing = sorted(set(gen.FINANCIAL_YEARS) - {r["fy"] for r in rows})
    if missing:
        raise LoadError(f"no funding rate for {', '.join(missing)}: set it first (PUT /v1/funding-rates/{{fy}})")


def quiet(post: gen.Post, serving: dict[str, list[gen.Post]], weeks: int = 12) -> bool:
    """Whether no post of the effect role started or left at the practices ``post`` serves within its
    analysis windows (so nothing but noise moves there)."""
    start_week = post.start_date - timedelta(days=post.start_date.weekday())
    first, last = start_week - timedelta(weeks=weeks), start_week + timedelta(weeks=weeks, days=6)
    for code in post.practice_codes:
        for other in serving.get(code, []):
            if other.role_code != gen.EFFECT_ROLE or other is post:
                continue
            if first <= other.start_date <= last or (other.leave_date and first <= other.leave_date <= last):
                return False
    return True


def examples(dataset: gen.Dataset, state: State) -> tuple[gen.Post | None, gen.Post | None]:
    """A post of the effect role serving one practice and a quiet post of another clinical role serving
    several, both loaded and in post, to show."""
    serving = dataset.posts_serving()
    treated = control = None
    for post in dataset.posts:
        if f"post:{post.key}" not in state.ids or post.leave_date is not None:
            continue
        if treated is None and post.role_code == gen.EFFECT_ROLE and len(post.practice_codes) == 1:
            treated = post
        if (
            control is None
            and post.role_code == "first_contact_physiotherapist"
            and len(post.practice_codes) > 1
            and quiet(post, serving)
        ):
            control = post
        if treated and control:
            break
    return treated, control


async def shift(api: Api, post_id: int, key: str) -> dict[str, Any]:
    response = await api.call("GET", f"/v1/evaluations/posts/{post_id}/workload-shift", key=key)
    result: dict[str, Any] = check(response, 200).json()
    return result
