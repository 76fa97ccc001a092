"""The floors of the gateway benchmark: what the catalogue read and the proxy cost at the least.

Three apps (:mod:`bench.floor_app`) answer the roles service's own answer to the benchmark's request,
measured in the same run as the other paths, interleaved with them:

- ``floor_bytes``: a bare FastAPI handler answering the same bytes (no kit, no principal, no database);
- ``floor_models``: a bare FastAPI handler answering the same data as the roles route's response model
  kept in memory, validated and serialised by FastAPI on every request;
- ``kit_floor``: the same bytes from a service app of the kit (its middleware, the signed principal
  verified, a read session opened and closed, no statement).

And ``gateway_healthz``: wrk straight to the gateway's own ``GET /healthz``, no credential, no upstream:
what the gateway's stack costs per request before it proxies anything.

Every floor gets the very request the service gets direct (a signed principal set of its own per
request); the bare floors do not look at it. The targets compare per-request CPU of one run: the kit
floor against the bare handler, the roles read against the models floor, the proxied request against
``/healthz`` (:data:`TARGET_FACTOR` each, at every concurrency).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.servers import HOST, Processes, log, uvicorn_command

if TYPE_CHECKING:
    from bench.report import Measurement

FLOOR_PATHS = ("floor_bytes", "floor_models", "kit_floor")
HEALTHZ_PATH = "gateway_healthz"
FACTORIES = {
    "floor_bytes": "bench.floor_app:bytes_app",
    "floor_models": "bench.floor_app:models_app",
    "kit_floor": "bench.floor_app:kit_app",
}
LABELS = {
    HEALTHZ_PATH: "gateway /healthz",
    "floor_bytes": "floor: same bytes (bare FastAPI)",
    "floor_models": "floor: same models (bare FastAPI, response_model)",
    "kit_floor": "kit floor (service app, same bytes)",
}
# The process whose CPU answers each path: the floor's own, or the gateway itself for /healthz.
SERVICE_PROCESS = {HEALTHZ_PATH: "gateway", **{path: path for path in FLOOR_PATHS}}
ANSWER_FILE = "floor-answer.bin"
TARGET_FACTOR = 2.0
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Ratio:
    """One CPU/req ratio of the Floors table: ``numerator`` path's ``process`` over ``denominator``'s."""

    key: str
    label: str
    numerator: tuple[str, str]
    denominator: tuple[str, str]
    target: str | None = None


RATIOS = (
    Ratio(
        "roles_vs_models_floor",
        "roles CPU/req (direct) / models floor CPU/req",
        ("direct", "roles"),
        ("floor_models", "floor_models"),
        "the roles service's CPU per catalogue read (direct) is at most {factor:g}× the models floor's CPU per request",
    ),
    Ratio(
        "roles_vs_bytes_floor",
        "roles CPU/req (direct) / bytes floor CPU/req",
        ("direct", "roles"),
        ("floor_bytes", "floor_bytes"),
    ),
    Ratio(
        "kit_vs_bytes_floor",
        "kit floor CPU/req / bytes floor CPU/req",
        ("kit_floor", "kit_floor"),
        ("floor_bytes", "floor_bytes"),
        "the kit floor (the kit's middleware, principal verification and read session) costs at most"
        " {factor:g}× the CPU per request of a bare FastAPI handler of the same bytes",
    ),
    Ratio(
        "gateway_proxy_vs_healthz",
        "gateway CPU/req proxied (admin key) / gateway CPU/req on /healthz",
        ("gateway", "gateway"),
        (HEALTHZ_PATH, "gateway"),
        "the gateway's CPU per proxied request (admin key) is at most {factor:g}× its CPU per /healthz",
    ),
)


@dataclass(frozen=True)
class Answer:
    """The roles service's answer to the benchmark's request, as the floors serve it."""

    body: bytes
    media_type: str


def fetch_answer(url: str, headers: dict[str, str]) -> Answer:
    """One signed ``GET`` of the request from the running service: the bytes the floors will answer."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own loopback URL
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}")
        return Answer(bytes(response.read()), response.headers.get("Content-Type", "application/json"))


def start(
    processes: Processes, paths: list[str], ports: dict[str, int], env: dict[str, str], temp: Path, answer: Answer
) -> dict[str, str]:
    """Start the floors among ``paths`` serving ``answer``; their base URLs by path."""
    wanted = [p for p in FLOOR_PATHS if p in paths]
    if not wanted:
        return {}
    answer_file = temp / ANSWER_FILE
    answer_file.write_bytes(answer.body)
    floor_env = {
        **env,
        "BENCH_ANSWER_FILE": str(answer_file),
        "BENCH_ANSWER_MEDIA_TYPE": answer.media_type,
        "BENCH_KIT_FLOOR_DATABASE_URL": f"sqlite:///{temp / 'kit-floor.db'}",
    }
    base: dict[str, str] = {}
    for path in wanted:
        base[path] = f"http://{HOST}:{ports[path]}"
        log(f"{LABELS[path]} on :{ports[path]} ({len(answer.body):,} bytes, {answer.media_type})")
        processes.start(path, uvicorn_command(FACTORIES[path], ports[path]), floor_env)
    for path in wanted:
        # The bare floors have no health route: their one route answers without credentials. The kit
        # floor's readiness pings its database.
        probe = "/readyz" if path == "kit_floor" else "/v1/rates"
        processes.wait_healthy(path, base[path] + probe, 60.0)
    return base


def sameness(bodies: dict[str, bytes]) -> dict[str, str]:
    """How each floor's answer (already checked JSON-equal to direct) compares with direct's bytes."""
    direct = bodies["direct"]
    return {
        path: "byte-identical" if bodies[path] == direct else "JSON-equal, bytes differ"
        for path in FLOOR_PATHS
        if path in bodies
    }


def check_healthz(status: int, body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"the gateway's /healthz answered {status}: {body[:500]!r}")
    document = json.loads(body)
    if document.get("status") != "ok":
        raise RuntimeError(f"the gateway's /healthz answered {document}")


def _cpu(results: dict[str, dict[int, Measurement]], path: str, process: str, c: int) -> float | None:
    m = results.get(path, {}).get(c)
    return None if m is None else m.cpu_ms_per_request.get(process)


def _clean(results: dict[str, dict[int, Measurement]], c: int, paths: tuple[str, ...]) -> bool:
    return all(results[p][c].wrk.errors == 0 for p in paths)


def comparisons(results: dict[str, dict[int, Measurement]], concurrencies: list[int]) -> dict[str, Any]:
    """The Floors table's ratios (by key, then concurrency) and the floor targets, from one run's figures."""
    ratios: dict[str, dict[int, float | None]] = {}
    targets: list[dict[str, Any]] = []
    for ratio in RATIOS:
        (top_path, top_process), (bottom_path, bottom_process) = ratio.numerator, ratio.denominator
        if top_path not in results and bottom_path not in results:
            continue
        for c in concurrencies:
            top = _cpu(results, top_path, top_process, c)
            bottom = _cpu(results, bottom_path, bottom_process, c)
            value = top / bottom if top is not None and bottom else None
            if top is not None and bottom is not None:
                ratios.setdefault(ratio.key, {})[c] = value
            if ratio.target is None:
                continue
            target = f"at concurrency {c}, " + ratio.target.format(factor=TARGET_FACTOR)
            if top is None or bottom is None:
                targets.append({"target": target, "value": "not measured", "met": False, "note": "not measured"})
                continue
            clean = _clean(results, c, (top_path, bottom_path))
            targets.append(
                {
                    "target": target,
                    "value": "n/a" if value is None else f"{top:.3f} / {bottom:.3f} ms = {value:.2f}×",
                    "met": bool(value is not None and value <= TARGET_FACTOR and clean),
                    "note": "" if clean else "runs had errors",
                }
            )
    return {"ratios": ratios, "targets": targets}


_ROWS = (
    ("direct", "roles", "roles service, direct: roles CPU/req (ms)"),
    ("floor_models", "floor_models", f"{LABELS['floor_models']}: CPU/req (ms)"),
    ("floor_bytes", "floor_bytes", f"{LABELS['floor_bytes']}: CPU/req (ms)"),
    ("kit_floor", "kit_floor", f"{LABELS['kit_floor']}: CPU/req (ms)"),
    ("gateway", "gateway", "gateway → roles, admin key: gateway CPU/req (ms)"),
    (HEALTHZ_PATH, "gateway", f"{LABELS[HEALTHZ_PATH]}: gateway CPU/req (ms)"),
)


def section(cmp: dict[str, Any], results: dict[str, dict[int, Measurement]], concurrencies: list[int]) -> list[str]:
    """The Floors table of the Markdown report (nothing when no floor was measured)."""
    if not any(p in results for p in (*FLOOR_PATHS, HEALTHZ_PATH)):
        return []
    out = [
        "## Floors",
        "",
        "| | " + " | ".join(f"concurrency {c}" for c in concurrencies) + " |",
        "| --- | " + " | ".join("--:" for _ in concurrencies) + " |",
    ]
    for path, process, label in _ROWS:
        if path in results:
            cells = (_cpu(results, path, process, c) for c in concurrencies)
            out.append(f"| {label} | " + " | ".join("n/a" if v is None else f"{v:.3f}" for v in cells) + " |")
    for ratio in RATIOS:
        values = cmp["floors"].get(ratio.key)
        if values:
            cells = (values.get(c) for c in concurrencies)
            out.append(f"| {ratio.label} | " + " | ".join("n/a" if v is None else f"{v:.2f}×" for v in cells) + " |")
    out += [
        "",
        "Each CPU/req is that of the one process that answers (a floor app, the roles service, the gateway),"
        " from the rows of the Results table above: the same run, the same load. The floor targets below ask"
        f" for ratios of at most {TARGET_FACTOR:g}×: what the kit adds to a bare FastAPI handler, what the"
        " roles read adds to FastAPI answering its models, what proxying adds to the gateway's own cheapest"
        " route.",
        "",
    ]
    return out


def console(cmp: dict[str, Any]) -> list[str]:
    """The floor ratios, one line each, for the console."""
    return [
        f"{ratio.label}: " + ", ".join(f"c={c}: {v:.2f}×" for c, v in cmp["floors"][ratio.key].items() if v is not None)
        for ratio in RATIOS
        if cmp["floors"].get(ratio.key)
    ]


def description(floors: dict[str, Any] | None) -> list[str]:
    """The report header's lines on what each floor is."""
    if not floors:
        return []
    same = floors.get("sameness") or {}
    checked = "; ".join(f"{LABELS[p]}: {v}" for p, v in same.items())
    return [
        "- Floors, each served by uvicorn as the roles service is (`bench/floor_app.py`), answering the"
        f" roles service's own answer to the request ({floors['answer_bytes']:,} bytes, `{floors['media_type']}`,"
        " fetched once from the running service with signed headers): **floor: same bytes** = a bare FastAPI"
        " app (no arrs_kit middleware, no principal check, no database) whose one route returns a `Response`"
        " of those bytes; **floor: same models** = the same bare app, its route declaring the roles route's"
        " `response_model` (`roles.schemas.RatePage`) and returning the page parsed from those bytes at"
        " start-up, so FastAPI checks it against the model (an instance of that very class is taken as it is)"
        " and serialises it on every request; **kit floor** = the same bytes from an app built as a service"
        " is (`arrs_kit.app.create_service_app`: request context and JSON access log, the signed principal"
        " verified and its nonce remembered, `PrincipalDep`, a read session of `arrs_kit.db` on an empty"
        " SQLite database opened and closed with no statement, as the roles read issues none per request"
        " either: it answers from its in-memory snapshot, whose stamp it reads at most once a second). Every"
        " floor gets the very requests direct gets (a signed set of its own each); the bare floors ignore them."
        " **gateway /healthz** = wrk → the gateway's own `GET /healthz` (no credential, no upstream), checked"
        " to answer 200 rather than the same body."
        + (f" Answers checked against direct: {checked}." if checked else ""),
    ]
