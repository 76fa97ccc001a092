"""Loads the demo data set through the gateway, as the platform's own clients would.

The bootstrap admin registers the ICBs and creates the API clients (only an admin may); each ICB's
client registers its PCNs, records weighted populations, allocates budgets and approves and pays
claims; each PCN's client adds its posts, job plans, KPIs, measurements, readiness and claims; each
practice-system client (one supplier's feed for up to 100 practices of an ICB) posts its practices'
list sizes and weekly workload as NDJSON.

Every step is recorded in the state file (:mod:`tools.demo.state`) as soon as the platform has
answered, so a re-run skips what is done. Money never moves twice: allocations and every claim
transition carry an ``Idempotency-Key`` derived from the seed and the claim, so a step repeated after
an interruption replays its first answer. A post, a KPI or an API client made just before an
interruption, before it could be recorded, is found again (by its staff reference, name or client
name) rather than made twice. A 429 is retried after its ``Retry-After``; a 502/503/504 or a dropped
connection after a short pause, when repeating the request is safe.

The module is over 400 lines because it is one procedure: the :class:`Loader`'s phases share its
plumbing (the state, the API keys, the phase runner) and read as the load's order of work. What the
demo reads before and after the load is in :mod:`tools.demo.reads`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tools.demo import activity, series
from tools.demo import generate as gen
from tools.demo.http import Api, LoadError, Progress, Uncertain, check, duration, problem
from tools.demo.state import State

T = TypeVar("T")
Out = Callable[[str], None]
BULK_TIMEOUT_S = 900.0
REFUSALS = frozenset(
    {"role-not-claimable", "rate-not-published", "post-not-active", "role-cap-exceeded", "budget-exceeded"}
)
"""Checks a claim may fail (domain.md §6) that the demo counts and reports instead of stopping."""


def interleave(pcns: Sequence[gen.Pcn]) -> list[gen.Pcn]:
    """PCNs taken from each ICB in turn, so concurrent work is spread over many ICBs' clients."""
    by_icb: dict[str, list[gen.Pcn]] = {}
    for pcn in pcns:
        by_icb.setdefault(pcn.icb_code, []).append(pcn)
    queues = list(by_icb.values())
    out: list[gen.Pcn] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


@dataclass
class Counts:
    """What the run found or did beyond the state file, for the summary."""

    claims_refused: dict[str, int] = field(default_factory=dict)
    claims_unrated: dict[str, int] = field(default_factory=dict)
    workload_records: int = 0
    list_size_records: int = 0
    phase_seconds: dict[str, float] = field(default_factory=dict)


class Loader:
    def __init__(
        self,
        api: Api,
        state: State,
        dataset: gen.Dataset,
        *,
        rated: dict[str, set[str]],
        out: Out = print,
        progress_every_s: float = 10.0,
        workers: int = 8,
        uploads: int = 2,
    ) -> None:
        self.api, self.state, self.ds = api, state, dataset
        self.rated = rated  # claim month -> roles with a national rate in force on its 1st
        self.out = out
        self.every_s = progress_every_s
        self.workers = workers  # units (PCNs, ICBs) worked on at once; the Api bounds requests in flight
        self.uploads = uploads
        self.seed = dataset.seed
        self.counts = Counts()
        self._clients_listed: list[dict[str, Any]] | None = None

    # Plumbing.

    def key(self, name: str) -> str:
        return self.state.clients[name].api_key

    def idem(self, what: str) -> dict[str, str]:
        return {"Idempotency-Key": f"demo-{self.seed}-{what}"}

    async def phase(
        self,
        name: str,
        units: Sequence[T],
        work: Callable[[T, Progress], Awaitable[None]],
        *,
        total: int,
        unit: str,
        workers: int,
    ) -> None:
        progress = Progress(self.out, name, total, unit)
        self.out(f"[demo] {name}: {total:,} {unit}")
        queue: asyncio.Queue[T] = asyncio.Queue()
        for item in units:
            queue.put_nowait(item)

        async def worker() -> None:
            while not queue.empty():
                await work(queue.get_nowait(), progress)

        ticker = asyncio.create_task(progress.tick(self.every_s))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, min(workers, len(units)))):
                    group.create_task(worker())
        finally:
            ticker.cancel()
        self.counts.phase_seconds[name] = time.monotonic() - progress.started
        self.out(progress.line() + f"; done in {duration(self.counts.phase_seconds[name])}")

    async def ensure_client(self, name: str, display: str, kind: str, org_codes: list[str]) -> None:
        if name in self.state.clients:
            return
        if name in self.state.started:
            # Made by an interrupted run before its key could be recorded: the key is lost (it is shown
            # once), so revoke that client and make another.
            for row in await self._listed_clients():
                if row["name"] == display and row.get("revoked_at") is None:
                    check(await self.api.call("DELETE", f"/v1/clients/{row['id']}"), 204, 404)
        self.state.mark_started(name)
        body = {"name": display, "kind": kind, "org_codes": org_codes}
        try:
            response = await self.api.call("POST", "/v1/clients", body=body)
        except Uncertain:
            for row in await self._listed_clients(fresh=True):
                if row["name"] == display and row.get("revoked_at") is None:
                    check(await self.api.call("DELETE", f"/v1/clients/{row['id']}"), 204, 404)
            response = await self.api.call("POST", "/v1/clients", body=body)
        made = check(response, 201).json()
        self.state.record(
            "client",
            name,
            id=made["id"],
            client_id=made["client_id"],
            api_key=made["api_key"],
            name=display,
            client_kind=kind,
        )

    async def _listed_clients(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        if self._clients_listed is None or fresh:
            rows: list[dict[str, Any]] = []
            cursor = None
            while True:
                params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                page = check(await self.api.call("GET", "/v1/clients", params=params), 200).json()
                rows.extend(page["data"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            self._clients_listed = rows
        return self._clients_listed

    # The run.

    async def run(self) -> Counts:
        await self.check_state()
        await self.register()
        await self.make_clients()
        self.write_keys()

        async def practice_systems() -> None:
            await self.list_sizes()
            await self.workload()

        async def pcns_and_icbs() -> None:
            await self.budgets()
            await self.posts()
            await self.plans()
            await self.claims()

        # The bulk uploads load the evaluation service and the database; the rest mostly the budget
        # service: on two cores the two go faster side by side.
        async with asyncio.TaskGroup() as group:
            group.create_task(practice_systems())
            group.create_task(pcns_and_icbs())
        return self.counts

    async def check_state(self) -> None:
        """A state file from another platform (its databases since replaced) would make this run skip
        everything: refuse it, naming a PCN the platform no longer has."""
        loaded = [p for p in self.ds.pcns if f"pcn:{p.code}" in self.state.done]
        if not loaded:
            return
        response = await self.api.call("GET", f"/v1/pcns/{loaded[0].code}")
        pcn_key = f"pcn:{loaded[0].code}"
        if response.status_code == 200 and pcn_key in self.state.clients:
            response = await self.api.call("GET", f"/v1/pcns/{loaded[0].code}", key=self.key(pcn_key))
        if response.status_code != 200:
            raise LoadError(
                f"{self.state.path} says PCN {loaded[0].code} was loaded, but the platform answers "
                f"{response.status_code} for it (with the stored keys): the state file belongs to other "
                "databases. Remove it (or set DEMO_STATE) to load afresh."
            )

    async def register(self) -> None:
        async def icb(item: gen.Icb, progress: Progress) -> None:
            if f"icb:{item.code}" in self.state.done:
                progress.skip()
                return
            response = await self.api.call("POST", "/v1/icbs", body={"code": item.code, "name": item.name})
            if not (response.status_code == 409 and problem(response) == "icb-exists"):
                check(response, 201)
            self.state.mark_done(f"icb:{item.code}")
            progress.add()

        await self.phase(
            "ICBs (admin)", self.ds.icbs, icb, total=len(self.ds.icbs), unit="ICBs", workers=min(4, self.workers)
        )

        async def icb_client(item: gen.Icb, progress: Progress) -> None:
            if f"icb:{item.code}" in self.state.clients:
                progress.skip()
                return
            await self.ensure_client(f"icb:{item.code}", f"{item.code} ICB digital team (demo)", "icb", [item.code])
            progress.add()

        await self.phase(
            "ICB clients (admin)",
            self.ds.icbs,
            icb_client,
            total=len(self.ds.icbs),
            unit="clients",
            workers=min(4, self.workers),
        )

        async def pcn(item: gen.Pcn, progress: Progress) -> None:
            if f"pcn:{item.code}" in self.state.done:
                progress.skip()
                return
            key = self.key(f"icb:{item.icb_code}")
            body = {
                "code": item.code,
                "name": item.name,
                "icb_code": item.icb_code,
                "practice_codes": item.practice_codes,
                "list_size": gen.pcn_list_size(item),
                "effective_date": "2023-01-01",
            }
            try:
                response = await self.api.call("POST", "/v1/pcns", key=key, body=body)
            except Uncertain:
                response = await self.api.call("POST", "/v1/pcns", key=key, body=body)
            if response.status_code == 409 and problem(response) == "pcn-exists":
                found = check(await self.api.call("GET", f"/v1/pcns/{item.code}", key=key), 200).json()
                if sorted(found["practice_codes"]) != sorted(item.practice_codes):
                    raise LoadError(f"PCN {item.code} exists with other practices: {found['practice_codes']}")
            else:
                check(response, 201)
            self.state.mark_done(f"pcn:{item.code}")
            progress.add()

        pcns = interleave(self.ds.pcns)
        await self.phase("PCNs (ICB clients)", pcns, pcn, total=len(pcns), unit="PCNs", workers=self.workers)

    async def make_clients(self) -> None:
        wanted: list[tuple[str, str, str, list[str]]] = [
            (f"pcn:{p.code}", f"{p.code} {p.name} manager (demo)", "pcn", [p.code]) for p in self.ds.pcns
        ]
        wanted += [(f"feed:{f.key}", f.name, "practice_system", list(f.practice_codes)) for f in self.ds.feeds()]
        wanted.append(("dashboard", "National dashboard (demo)", "dashboard", []))

        async def one(item: tuple[str, str, str, list[str]], progress: Progress) -> None:
            if item[0] in self.state.clients:
                progress.skip()
                return
            await self.ensure_client(*item)
            progress.add()

        await self.phase(
            "PCN, practice-system and dashboard clients (admin)",
            wanted,
            one,
            total=len(wanted),
            unit="clients",
            workers=self.workers,
        )

    def write_keys(self) -> Path:
        """The keys, by kind and organisation, beside the state file (readable only by its owner)."""
        keys: dict[str, Any] = {"admin": "ARRS_ADMIN_API_KEY (not stored here)"}
        for name, client in sorted(self.state.clients.items()):
            kind, _, code = name.partition(":")
            if code:
                keys.setdefault(kind, {})[code] = client.api_key
            else:
                keys[kind] = client.api_key
        path = self.state.path.with_name(self.state.path.name.removesuffix(".state.jsonl") + ".keys.json")
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(keys, indent=1) + "\n", encoding="utf-8")
        return path

    async def list_sizes(self) -> None:
        feeds = self.ds.feeds()
        practices = {p.code: p for p in self.ds.practices}

        async def one(feed: gen.Feed, progress: Progress) -> None:
            done = f"list-sizes:{feed.key}"
            if done in self.state.done:
                progress.skip()
                return
            body = series.list_size_lines(practices[c] for c in feed.practice_codes)
            response = await self.api.call(
                "POST",
                "/v1/list-sizes",
                key=self.key(f"feed:{feed.key}"),
                content=body,
                headers={"Content-Type": "application/x-ndjson", **self.idem(done)},
                timeout_s=BULK_TIMEOUT_S,
            )
            self.counts.list_size_records += check(response, 200).json()["received"]
            self.state.mark_done(done)
            progress.add()

        await self.phase(
            "list sizes (practice-system clients)", feeds, one, total=len(feeds), unit="feeds", workers=self.uploads
        )

    async def workload(self) -> None:
        feeds = self.ds.feeds()
        practices = {p.code: p for p in self.ds.practices}
        serving = self.ds.posts_serving()

        async def one(feed: gen.Feed, progress: Progress) -> None:
            done = f"workload:{feed.key}"
            if done in self.state.done:
                progress.skip(len(feed.practice_codes))
                return
            body, records = await asyncio.to_thread(
                series.workload_lines, self.seed, [practices[c] for c in feed.practice_codes], serving
            )
            response = await self.api.call(
                "POST",
                "/v1/workload",
                key=self.key(f"feed:{feed.key}"),
                content=body,
                headers={"Content-Type": "application/x-ndjson", **self.idem(done)},
                timeout_s=BULK_TIMEOUT_S,
            )
            check(response, 200)
            self.counts.workload_records += records
            self.state.mark_done(done)
            progress.add(len(feed.practice_codes))

        await self.phase(
            "weekly workload, NDJSON (practice-system clients)",
            feeds,
            one,
            total=len(practices),
            unit="practices",
            workers=self.uploads,
        )

    async def budgets(self) -> None:
        async def one(pcn: gen.Pcn, progress: Progress) -> None:
            key = self.key(f"icb:{pcn.icb_code}")
            steps = [f"{step}:{pcn.code}:{fy}" for fy in gen.FINANCIAL_YEARS for step in ("wp", "alloc")]
            if all(step in self.state.done for step in steps):
                progress.skip()
                return
            for fy in gen.FINANCIAL_YEARS:
                if f"wp:{pcn.code}:{fy}" not in self.state.done:
                    population, reference = gen.weighted_population(pcn, fy)
                    body = {"weighted_population": population, "reference_date": reference.isoformat()}
                    path = f"/v1/pcns/{pcn.code}/weighted-populations/{fy}"
                    check(await self.api.call("PUT", path, key=key, body=body), 200, 201)
                    self.state.mark_done(f"wp:{pcn.code}:{fy}")
                if f"alloc:{pcn.code}:{fy}" not in self.state.done:
                    path = f"/v1/pcns/{pcn.code}/budgets/{fy}/allocate"
                    headers = self.idem(f"allocate-{pcn.code}-{fy}")
                    check(await self.api.call("POST", path, key=key, headers=headers), 200, 201)
                    self.state.mark_done(f"alloc:{pcn.code}:{fy}")
            progress.add()

        pcns = interleave(self.ds.pcns)
        await self.phase(
            "weighted populations and allocations (ICB clients)",
            pcns,
            one,
            total=len(pcns),
            unit="PCNs",
            workers=self.workers,
        )

    async def posts(self) -> None:
        async def one(pcn: gen.Pcn, progress: Progress) -> None:
            key = self.key(f"pcn:{pcn.code}")
            missing = [p for p in pcn.posts if f"post:{p.key}" not in self.state.ids]
            progress.skip(len(pcn.posts) - len(missing))
            if not missing:
                return
            if f"posts:{pcn.code}" in self.state.started:
                await self._adopt_posts(pcn, key)
            self.state.mark_started(f"posts:{pcn.code}")
            for post in missing:
                if f"post:{post.key}" in self.state.ids:
                    progress.add()
                    continue
                try:
                    response = await self.api.call("POST", "/v1/posts", key=key, body=gen.post_body(post))
                except Uncertain:
                    await self._adopt_posts(pcn, key)
                    if f"post:{post.key}" in self.state.ids:
                        progress.add()
                        continue
                    response = await self.api.call("POST", "/v1/posts", key=key, body=gen.post_body(post))
                self.state.record("id", f"post:{post.key}", id=check(response, 201).json()["id"])
                progress.add()

        pcns = interleave(self.ds.pcns)
        total = sum(len(p.posts) for p in pcns)
        await self.phase("posts (PCN clients)", pcns, one, total=total, unit="posts", workers=self.workers)

    async def _adopt_posts(self, pcn: gen.Pcn, key: str) -> None:
        """Record the ids of this PCN's posts the platform already has (made by an interrupted run)."""
        ours = {gen.staff_reference(p): p for p in pcn.posts}
        page = check(
            await self.api.call("GET", "/v1/posts", key=key, params={"pcn_code": pcn.code, "limit": 500}), 200
        ).json()
        for row in page["data"]:
            post = ours.get(row.get("staff_reference") or "")
            if post is not None and f"post:{post.key}" not in self.state.ids:
                self.state.record("id", f"post:{post.key}", id=row["id"])

    async def plans(self) -> None:
        async def one(pcn: gen.Pcn, progress: Progress) -> None:
            key = self.key(f"pcn:{pcn.code}")
            cells = activity.readiness(self.seed, pcn)
            if cells is not None and f"readiness:{pcn.code}" not in self.state.done:
                response = await self.api.call("PUT", f"/v1/readiness/{pcn.code}", key=key, body=cells)
                check(response, 200, 201, 428)  # 428: made by an earlier run, a change would need If-Match
                self.state.mark_done(f"readiness:{pcn.code}")
            for post in pcn.posts:
                made = activity.plan(self.seed, post, pcn, self.ds.roles[post.role_code])
                if made is None:
                    continue
                if await self._plan(made, key):
                    progress.add()
                else:
                    progress.skip()

        pcns = interleave(self.ds.pcns)
        total = sum(
            1
            for pcn in pcns
            for p in pcn.posts
            if activity.plan(self.seed, p, pcn, self.ds.roles[p.role_code]) is not None
        )
        await self.phase(
            "readiness, job plans, KPIs and measurements (PCN clients)",
            pcns,
            one,
            total=total,
            unit="job plans",
            workers=self.workers,
        )

    async def _plan(self, made: activity.Plan, key: str) -> bool:
        """The post's job plan, KPIs and measurements; whether anything was left to do."""
        post_id = self.state.ids[f"post:{made.post.key}"]
        steps = [f"jobplan:{made.post.key}"] + [f"measurements:{k.key}" for k in made.kpis if k.measurements]
        if all(step in self.state.done for step in steps) and all(f"kpi:{k.key}" in self.state.ids for k in made.kpis):
            return False
        if f"jobplan:{made.post.key}" not in self.state.done:
            response = await self.api.call("PUT", f"/v1/job-plans/{post_id}", key=key, body=made.job_plan)
            check(response, 200, 201, 428)
            self.state.mark_done(f"jobplan:{made.post.key}")
        for kpi in made.kpis:
            if f"kpi:{kpi.key}" not in self.state.ids:
                if f"kpi:{kpi.key}" in self.state.started:
                    await self._adopt_kpis(made, post_id, key)
                if f"kpi:{kpi.key}" not in self.state.ids:
                    self.state.mark_started(f"kpi:{kpi.key}")
                    path = f"/v1/job-plans/{post_id}/kpis"
                    try:
                        response = await self.api.call("POST", path, key=key, body=kpi.body)
                    except Uncertain:
                        await self._adopt_kpis(made, post_id, key)
                        response = await self.api.call("POST", path, key=key, body=kpi.body)
                    if f"kpi:{kpi.key}" not in self.state.ids:
                        self.state.record("id", f"kpi:{kpi.key}", id=check(response, 201).json()["id"])
            if kpi.measurements and f"measurements:{kpi.key}" not in self.state.done:
                path = f"/v1/kpis/{self.state.ids[f'kpi:{kpi.key}']}/measurements"
                headers = self.idem(f"measurements-{kpi.key}")
                check(await self.api.call("POST", path, key=key, body=kpi.measurements, headers=headers), 200)
                self.state.mark_done(f"measurements:{kpi.key}")
        return True

    async def _adopt_kpis(self, made: activity.Plan, post_id: int, key: str) -> None:
        page = check(
            await self.api.call("GET", f"/v1/job-plans/{post_id}/kpis", key=key, params={"limit": 500}), 200
        ).json()
        by_name = {row["name"]: row["id"] for row in page["data"]}
        for kpi in made.kpis:
            if kpi.body["name"] in by_name and f"kpi:{kpi.key}" not in self.state.ids:
                self.state.record("id", f"kpi:{kpi.key}", id=by_name[kpi.body["name"]])

    async def claims(self) -> None:
        months = self.ds.scale.claim_months
        plans: list[tuple[gen.Pcn, list[activity.Claim]]] = []
        for pcn in interleave(self.ds.pcns):
            wanted = []
            for post in pcn.posts:
                for claim in activity.claims(self.seed, post, months):
                    if post.role_code in self.rated.get(claim.month, set()):
                        wanted.append(claim)
                    else:
                        self.counts.claims_unrated[post.role_code] = (
                            self.counts.claims_unrated.get(post.role_code, 0) + 1
                        )
            plans.append((pcn, wanted))

        async def one(item: tuple[gen.Pcn, list[activity.Claim]], progress: Progress) -> None:
            pcn, wanted = item
            for claim in wanted:
                if await self._claim(pcn, claim):
                    progress.add()
                else:
                    progress.skip()

        total = sum(len(w) for _p, w in plans)
        await self.phase(
            f"claims {', '.join(months)}: draft, submit, approve, pay (PCN and ICB clients)",
            plans,
            one,
            total=total,
            unit="claims",
            workers=self.workers,
        )

    async def _claim(self, pcn: gen.Pcn, claim: activity.Claim) -> bool:
        """Take the claim to its goal; whether anything was left to do."""
        pcn_key, icb_key = self.key(f"pcn:{pcn.code}"), self.key(f"icb:{pcn.icb_code}")
        steps = ("draft", "submitted", "approved", "paid")
        known = self.state.claims.get(claim.key)
        if known is not None and (known[1] not in steps or steps.index(known[1]) >= steps.index(claim.goal)):
            return False
        if known is None:
            body = {**claim.body, "post_id": self.state.ids[f"post:{claim.post.key}"]}
            # A repeat of a draft that was made is 409 duplicate-claim, adopted below.
            response = await self.api.call("POST", "/v1/claims", key=pcn_key, body=body, repeatable=True)
            if response.status_code == 409 and problem(response) == "duplicate-claim":
                known = await self._adopt_claim(pcn, claim, pcn_key)
            elif problem(response) in REFUSALS:
                self._refused(claim, problem(response))
                return True
            else:
                made = check(response, 201).json()
                known = (made["id"], made["status"])
                self.state.record("claim", claim.key, id=known[0], status=known[1])
        claim_id, status = known
        if status not in steps:
            return True
        actions = (
            ("submit", pcn_key, None),
            ("approve", icb_key, None),
            ("pay", icb_key, {"payment_reference": f"{pcn.icb_code}-DEMO-{claim.month}-{claim_id}"}),
        )
        for (action, key, payload), reached in zip(actions, steps[1:], strict=True):
            if steps.index(status) >= steps.index(reached):
                continue
            if steps.index(status) >= steps.index(claim.goal):
                return True
            path = f"/v1/claims/{claim_id}/{action}"
            response = await self.api.call(
                "POST", path, key=key, body=payload, headers=self.idem(f"claim-{claim.key}-{action}")
            )
            if response.status_code == 409 and problem(response) in ("budget-exceeded", "role-cap-exceeded"):
                self._refused(claim, problem(response), claim_id)
                return True
            status = check(response, 200).json()["status"]
            self.state.record("claim", claim.key, id=claim_id, status=status)
        return True

    async def _adopt_claim(self, pcn: gen.Pcn, claim: activity.Claim, key: str) -> tuple[int, str]:
        post_id = self.state.ids[f"post:{claim.post.key}"]
        params = {"pcn_code": pcn.code, "month": claim.month, "limit": 500}
        page = check(await self.api.call("GET", "/v1/claims", key=key, params=params), 200).json()
        for row in page["data"]:
            if row["post_id"] == post_id and row["kind"] == "claim" and row["status"] not in ("rejected", "withdrawn"):
                self.state.record("claim", claim.key, id=row["id"], status=row["status"])
                return int(row["id"]), str(row["status"])
        raise LoadError(f"claim {claim.key}: the platform says it exists but does not list it")

    def _refused(self, claim: activity.Claim, reason: str, claim_id: int = 0) -> None:
        self.counts.claims_refused[reason] = self.counts.claims_refused.get(reason, 0) + 1
        self.state.record("claim", claim.key, id=claim_id, status=f"refused:{reason}")
