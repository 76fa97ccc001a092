"""``make demo`` in miniature: a seeded cut of the demo data set (one ICB of eight PCNs, claims for one
month) loaded by the demo's own loader through a gateway over the three real services in this
process, then read back through the analysis endpoints. The workload-shift evidence must recover the
effect the generator injected at the practices served by clinical pharmacist posts, and find none for
a post of a role with no effect. An interrupted load, resumed, must leave the money where it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.main import Gateway
from tools.demo import generate as gen
from tools.demo import load, reads
from tools.demo.http import Api
from tools.demo.state import State

SEED = 20250331
SCALE = gen.Scale("test", icbs=1, pcns_per_icb=8, claim_months=("2025-03",))
ADMIN = "dev-admin-key"


async def load_demo(client: httpx.AsyncClient, path: Path) -> tuple[gen.Dataset, State, load.Counts, Api]:
    api = Api(client, admin_key=ADMIN, concurrency=4)
    dataset = gen.build(SEED, SCALE, await reads.catalogue(api, gen.POSTS_TO))
    rated = await reads.rated_roles(api, SCALE.claim_months)
    state = State.open(path, {"seed": SEED, "scale": SCALE.label})
    try:
        counts = await load.Loader(api, state, dataset, rated=rated, out=lambda _line: None, workers=4).run()
    finally:
        state.close()
    return dataset, state, counts, api


async def shift(client: httpx.AsyncClient, state: State, post: gen.Post) -> dict[str, Any]:
    key = state.clients[f"pcn:{post.pcn_code}"].api_key
    response = await client.get(
        f"/v1/evaluations/posts/{state.ids[f'post:{post.key}']}/workload-shift", headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["estimate"] is not None, answer
    return answer


async def money(client: httpx.AsyncClient, dataset: gen.Dataset) -> dict[str, Any]:
    """Every pot's balances and every claim's status, as the admin sees them."""
    seen: dict[str, Any] = {}
    for pcn in dataset.pcns:
        budget = await client.get(f"/v1/pcns/{pcn.code}/budgets/2024-25", headers={"X-API-Key": ADMIN})
        claims = await client.get(
            "/v1/claims", params={"pcn_code": pcn.code, "limit": 500}, headers={"X-API-Key": ADMIN}
        )
        posts = await client.get("/v1/posts", params={"pcn_code": pcn.code, "limit": 500}, headers={"X-API-Key": ADMIN})
        seen[pcn.code] = (
            budget.json()["pots"],
            sorted((c["post_id"], c["month"], c["status"], c["amount_pence"]) for c in claims.json()["data"]),
            len(posts.json()["data"]),
        )
    return seen


@pytest.fixture
async def loaded(gateway_app: Gateway, tmp_path: Path) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as client:
        dataset, state, counts, _api = await load_demo(client, tmp_path / "demo.state.jsonl")
        yield client, dataset, state, counts


async def test_the_injected_effect_is_recovered_and_a_role_without_one_shows_none(loaded: Any) -> None:
    client, dataset, state, counts = loaded
    assert counts.workload_records > 50_000 and not counts.claims_refused
    serving = dataset.posts_serving()
    # A clinical pharmacist serving one practice, in post throughout (every such post has clean windows:
    # the role's posts in a PCN serve disjoint practices).
    treated = next(
        p
        for p in dataset.posts
        if p.role_code == gen.EFFECT_ROLE and p.leave_date is None and len(p.practice_codes) == 1
    )
    answer = await shift(client, state, treated)
    assert answer["n_treated"] == len(treated.practice_codes) and answer["n_comparison"] >= 10
    assert answer["ci_low"] <= -gen.EFFECT_PER_1000 <= answer["ci_high"], answer
    assert answer["ci_high"] < 0, answer  # and the fall is told apart from no change
    assert answer["role_appointments_per_wte_per_week"] > 0
    # A first contact physiotherapist whose practices had no pharmacist start or leave in its windows:
    # nothing was injected there, and the interval holds zero.
    control = next(
        p
        for p in dataset.posts
        if p.role_code == "first_contact_physiotherapist" and p.leave_date is None and reads.quiet(p, serving)
    )
    answer = await shift(client, state, control)
    assert answer["ci_low"] <= 0 <= answer["ci_high"], answer
    # The scorecard carries the role's evidence too, as the newcomer would read it.
    card = await client.get(
        f"/v1/scorecards/{treated.pcn_code}",
        params={"fy": "2024-25", "as_of": gen.AS_OF.isoformat()},
        headers={"X-API-Key": state.clients[f"pcn:{treated.pcn_code}"].api_key},
    )
    assert card.status_code == 200 and card.json()["parts_missing"] == []
    assert gen.EFFECT_ROLE in {row["role_code"] for row in card.json()["workload_shift"]}


async def test_an_interrupted_load_resumes_without_moving_money_twice(loaded: Any, tmp_path: Path) -> None:
    client, dataset, state, _counts = loaded
    before = await money(client, dataset)
    # The journal loses its last third, as if the run had been killed before recording those answers:
    # the resumed run finds its posts and claims again, and repeats each claim step under the same
    # Idempotency-Key, which replays the first answer.
    lines = state.path.read_text().splitlines(keepends=True)
    state.path.write_text("".join(lines[: 2 * len(lines) // 3]) + '{"t":"claim","k":"cut sh')
    cut = State.open(state.path, {"seed": SEED, "scale": SCALE.label})
    cut.close()
    assert len(cut.claims) < len(state.claims)
    _dataset, resumed, _counts, api = await load_demo(client, state.path)
    assert api.requests > 0
    assert await money(client, dataset) == before
    assert resumed.claims == state.claims and resumed.ids == state.ids
