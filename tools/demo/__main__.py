"""``python -m tools.demo``: load the national synthetic data set through a running platform's gateway.

    make run                       # in another terminal (GATEWAY_RATE_LIMITS='{}' for a bulk load)
    make demo                      # the national set; SMALL=1 make demo for two ICBs
    python -m tools.demo verify    # how well the analysis recovers the injected effect, post by post

Settings (environment, or the options of ``--help``): ``GATEWAY_URL`` (http://127.0.0.1:8000),
``ARRS_ADMIN_API_KEY`` (dev-admin-key), ``SMALL`` (1 for the small cut), ``DEMO_SEED``, ``DEMO_STATE``
(the state file; default ``var/demo/<cut>-seed<seed>.state.jsonl``), ``DEMO_CONCURRENCY`` (8).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tools.demo import generate as gen
from tools.demo import load, reads
from tools.demo.http import Api, LoadError, duration
from tools.demo.state import State, StateMismatch


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=("load", "verify"), default="load")
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--admin-key", default=os.environ.get("ARRS_ADMIN_API_KEY", "dev-admin-key"))
    parser.add_argument(
        "--small", action="store_true", default=os.environ.get("SMALL", "") not in ("", "0"), help="two ICBs only"
    )
    parser.add_argument("--seed", type=int, default=int(os.environ.get("DEMO_SEED", gen.DEFAULT_SEED)))
    parser.add_argument("--state", type=Path, default=os.environ.get("DEMO_STATE") or None)
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("DEMO_CONCURRENCY", "8")))
    parser.add_argument("--sample", type=int, default=0, help="verify: at most this many posts of each kind (0: all)")
    return parser.parse_args(argv)


def state_path(options: argparse.Namespace, scale: gen.Scale) -> Path:
    return Path(options.state or f"var/demo/{scale.label}-seed{options.seed}.state.jsonl")


def _client(options: argparse.Namespace) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=options.gateway,
        timeout=httpx.Timeout(120.0, connect=10.0),
        limits=httpx.Limits(max_connections=options.concurrency + 4, max_keepalive_connections=options.concurrency + 4),
        trust_env=False,
    )


async def prepare(api: Api, seed: int, scale: gen.Scale) -> tuple[gen.Dataset, dict[str, set[str]]]:
    """The data set for this platform's catalogue, and the roles each claim month has a rate for."""
    await reads.funding_rates(api)
    roles = await reads.catalogue(api, gen.POSTS_TO)
    return gen.build(seed, scale, roles), await reads.rated_roles(api, scale.claim_months)


async def run_load(options: argparse.Namespace) -> int:
    scale = gen.Scale.small() if options.small else gen.Scale.national()
    path = state_path(options, scale)
    began = time.monotonic()
    async with _client(options) as client:
        api = Api(client, admin_key=options.admin_key, concurrency=options.concurrency)
        try:
            await client.get("/healthz")
        except httpx.TransportError:
            print(f"[demo] no platform answers at {options.gateway}: start it with `make run` first", file=sys.stderr)
            return 2
        dataset, rated = await prepare(api, options.seed, scale)
        state = State.open(path, {"seed": options.seed, "scale": scale.label, "gateway": options.gateway})
        print(
            f"[demo] {scale.label} data set, seed {options.seed}: {len(dataset.icbs)} ICBs, "
            f"{len(dataset.pcns):,} PCNs, {len(dataset.practices):,} practices, {len(dataset.posts):,} posts; "
            f"state {path}"
            + (f" ({len(state.done) + len(state.ids) + len(state.claims):,} steps done before)" if state.done else ""),
            flush=True,
        )
        loader = load.Loader(
            api, state, dataset, rated=rated, out=lambda line: print(line, flush=True), workers=options.concurrency
        )
        try:
            counts = await loader.run()
        except LoadError as exc:
            print(
                f"[demo] stopped: {exc}\n[demo] fix the cause and run again: it continues from {path}", file=sys.stderr
            )
            return 1
        finally:
            state.close()
        await summary(api, dataset, state, counts, options, time.monotonic() - began, loader.write_keys())
    return 0


async def summary(
    api: Api,
    dataset: gen.Dataset,
    state: State,
    counts: load.Counts,
    options: argparse.Namespace,
    seconds: float,
    keys: Path,
) -> None:
    statuses: dict[str, int] = {}
    for _id, status in state.claims.values():
        statuses[status] = statuses.get(status, 0) + 1
    print(f"[demo] done in {duration(seconds)} ({api.requests:,} requests; {api.throttled:,} throttled (429))")
    for phase, spent in counts.phase_seconds.items():
        print(f"[demo]   {duration(spent):>7}  {phase}")
    print(
        f"[demo] loaded: {len(dataset.icbs)} ICBs, {len(dataset.pcns):,} PCNs, {len(dataset.practices):,} practices, "
        f"{sum(1 for p in dataset.posts if f'post:{p.key}' in state.ids):,} posts, "
        f"{sum(1 for k in state.done if k.startswith('jobplan:')):,} job plans, "
        f"{sum(1 for k in state.ids if k.startswith('kpi:')):,} KPIs, "
        f"{len(state.clients):,} API clients"
    )
    print(
        f"[demo] claims ({', '.join(dataset.scale.claim_months)}): "
        + ", ".join(f"{n:,} {s}" for s, n in sorted(statuses.items()))
    )
    if counts.claims_unrated:
        print(
            "[demo] no claims made for roles with no national rate in force (rate-not-published): "
            + ", ".join(f"{role} {n}" for role, n in sorted(counts.claims_unrated.items()))
        )
    if api.throttled:
        print("[demo] the gateway throttled the load: run the platform with GATEWAY_RATE_LIMITS='{}' to load faster")
    print(f"[demo] API keys: {keys} (the state file {state.path} holds them too)")
    treated, control = reads.examples(dataset, state)
    if treated is None:
        return
    pcn_key = state.clients[f"pcn:{treated.pcn_code}"].api_key
    icb_key = state.clients[f"icb:{treated.icb_code}"].api_key
    gw = options.gateway
    print("[demo] try:")
    print(f"  curl -s -H 'X-API-Key: {pcn_key}' '{gw}/v1/scorecards/{treated.pcn_code}?fy=2024-25&as_of={gen.AS_OF}'")
    query = f"icb_code={treated.icb_code}&fy=2024-25&as_of={gen.AS_OF}"
    print(f"  curl -s -H 'X-API-Key: {icb_key}' '{gw}/v1/scorecards?{query}'")
    for post, injected in ((treated, -gen.EFFECT_PER_1000), (control, 0.0)):
        if post is None:
            continue
        post_id = state.ids[f"post:{post.key}"]
        key = state.clients[f"pcn:{post.pcn_code}"].api_key
        print(f"  curl -s -H 'X-API-Key: {key}' '{gw}/v1/evaluations/posts/{post_id}/workload-shift'")
        answer = await reads.shift(api, post_id, key)
        print(
            f"[demo] post {post_id} ({post.role_code}, {post.pcn_code}, from {post.start_date}, serving "
            f"{', '.join(post.practice_codes)}): {_estimate(answer)}; injected {injected:+.1f}"
        )


def _estimate(answer: dict[str, Any]) -> str:
    if answer.get("estimate") is None:
        return f"no estimate ({answer.get('reason')})"
    return (
        f"estimate {answer['estimate']:+.2f} GP appointments per 1,000 patients a week, "
        f"95% interval {answer['ci_low']:+.2f} to {answer['ci_high']:+.2f} "
        f"({answer['n_treated']} treated, {answer['n_comparison']} comparison practices)"
    )


async def run_verify(options: argparse.Namespace) -> int:
    """Every loaded post of the effect role, and every quiet post of the other clinical roles: how often
    the 95% interval holds the effect injected (−4.0 and 0)."""
    scale = gen.Scale.small() if options.small else gen.Scale.national()
    async with _client(options) as client:
        api = Api(client, admin_key=options.admin_key, concurrency=options.concurrency)
        dataset, _rated = await prepare(api, options.seed, scale)
        state = State.open(state_path(options, scale), {"seed": options.seed, "scale": scale.label})
        state.close()
        serving = dataset.posts_serving()
        loaded = [p for p in dataset.posts if f"post:{p.key}" in state.ids]
        treated = [p for p in loaded if p.role_code == gen.EFFECT_ROLE]
        others = [
            p
            for p in loaded
            if p.role_code != gen.EFFECT_ROLE and p.appointments_per_wte > 0 and reads.quiet(p, serving)
        ]
        if options.sample:
            treated, others = treated[: options.sample], others[: options.sample]
        for label, posts, injected in (
            (f"{gen.EFFECT_ROLE} posts", treated, -gen.EFFECT_PER_1000),
            ("posts of other roles (no effect injected; no effect-role change at their practices)", others, 0.0),
        ):
            answers = await asyncio.gather(
                *(reads.shift(api, state.ids[f"post:{p.key}"], options.admin_key) for p in posts)
            )
            found = [a for a in answers if a.get("estimate") is not None]
            print(f"[demo] {label}: {len(found):,} of {len(posts):,} with an estimate (injected {injected:+.1f})")
            groups = {"all": found} | {
                f"serving {n}{'+' if n == 3 else ''} practice(s)": [a for a in found if min(a["n_treated"], 3) == n]
                for n in (1, 2, 3)
            }
            for name, group in groups.items():
                if group:
                    print("[demo]   " + _coverage(name, group, injected))
    return 0


def _coverage(name: str, found: list[dict[str, Any]], injected: float) -> str:
    covered = sum(1 for a in found if a["ci_low"] <= injected <= a["ci_high"])
    excludes_zero = sum(1 for a in found if a["ci_high"] < 0 or a["ci_low"] > 0)
    return (
        f"{name}: {len(found):,} posts, mean estimate {statistics.fmean(a['estimate'] for a in found):+.2f}; "
        f"the 95% interval holds {injected:+.1f} for {100 * covered / len(found):.1f}% and excludes 0 for "
        f"{100 * excludes_zero / len(found):.1f}%; median half-width "
        f"{statistics.median((a['ci_high'] - a['ci_low']) / 2 for a in found):.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    try:
        return asyncio.run(run_verify(options) if options.command == "verify" else run_load(options))
    except StateMismatch as exc:
        print(f"[demo] {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[demo] interrupted: run it again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
