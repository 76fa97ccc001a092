"""Every operation is driven, through the gateway with the services in-process, into the statuses that
apply to every operation or to a class of them, and must answer only statuses and headers its OpenAPI
document names: a client generated from the document meets nothing it was not told of.

Per operation (its path parameters made-up ids, its body the documented request example):

- no credentials → 401; a client past its rate limit → 429; headers over the limit → 431;
- a body over the gateway's limit → 413; a body that is not JSON (`text/plain`) → what the operation
  says (415 where it reads the type, else 422); a malformed body or query → 422 (400 unreadable);
- made-up ids → 404 (or what else the operation documents); a `.` segment → 400;
- the owning service down, slow, breaking the connection → 503, 504, 502;
- as a dashboard (read-only) and as a practice system (reads its practices only) → 403 where it may not.

Statuses a route answers from the state of what it acts on are driven for one operation each (409,
412, 428, 304) here, and for every operation by the access matrix (``test_access_matrix.py``), which
holds each of its answers to the same contract. Every documented error status must be reached here
for some operation, or be listed in :data:`REACHED_ELSEWHERE` with where.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory
from gateway.config import GatewaySettings
from gateway.main import Gateway, create_app
from gateway.routing import PUBLIC_PATHS, owner_of
from tests.contract.documented import Contract, resolve

ADMIN = {"X-API-Key": "dev-admin-key"}
LIMITED_KIND = "icb"
MAX_BODY = 8_192
MAX_BULK_BODY = 16_384
UNKNOWN = {
    "pcn_code": "U99999",
    "fy": "2024-25",
    "claim_id": "999999",
    "return_id": "999999",
    "post_id": "999999",
    "kpi_id": "999999",
    "version": "99",
    "role_code": "no_such_role",
    "practice_code": "Z99999",
    "client_id": "cl_" + "0" * 32,
}
REQUIRED_QUERY = {
    "icb_code": "QHM",
    "fy": "2024-25",
    "role_code": "clinical_pharmacist",
    "from_month": "2025-01",
    "practice_code": "A00001",
}
REACHED_ELSEWHERE: dict[str, str] = {}
"""Documented statuses this test does not provoke, and the test that does."""

FAULTS: dict[int, type[httpx.TransportError]] = {
    503: httpx.ConnectError,
    504: httpx.ReadTimeout,
    502: httpx.RemoteProtocolError,
}


class Faulty(httpx.AsyncBaseTransport):
    """A service's transport that can be made to fail as a network does."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fault: type[httpx.TransportError] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fault is not None:
            raise self.fault("injected by the test", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def edge(
    service_apps: dict[str, FastAPI], database_factory: DatabaseFactory
) -> Iterator[tuple[Gateway, dict[str, Faulty]]]:
    url = database_factory.create("gateway", "sqlite", partial(migrate.upgrade, "gateway"))
    transports = {name: Faulty(httpx.ASGITransport(app=app)) for name, app in service_apps.items()}
    settings = GatewaySettings(
        database_url=url,
        auth_failures_per_source=1_000_000,
        auth_failures_allowed=1_000_000,
        rate_limits={LIMITED_KIND: (0.001, 1)},  # one request, then 429 for the rest of the test
        max_body_bytes=MAX_BODY,
        max_bulk_body_bytes=MAX_BULK_BODY,
        openapi_cache_s=3600,
    )
    yield create_app(settings, transports=transports, configure_logs=False), transports
    database_factory.drop(url)


class Run:
    """The calls made, each held to the contract; what each operation answered."""

    def __init__(self, gw: httpx.AsyncClient, contract: Contract) -> None:
        self.gw = gw
        self.contract = contract
        self.problems: list[str] = []
        self.reached: dict[str, set[tuple[str, str]]] = {}

    async def call(
        self, probe: str, method: str, template: str, path: str, *, expect: set[int] | None = None, **kwargs: Any
    ) -> httpx.Response:
        response = await self.gw.request(method, path, **kwargs)
        self.reached.setdefault(str(response.status_code), set()).add((method, template))
        self.problems += [f"[{probe}] {p}" for p in self.contract.check(method, template, response)]
        if expect is not None and response.status_code not in expect:
            self.problems.append(
                f"[{probe}] {method} {template}: {response.status_code}, want {sorted(expect)}: {response.text[:160]}"
            )
        return response


def fill(template: str, values: dict[str, str]) -> str:
    return template.format(**{name: values.get(name, "1") for name in _names(template)})


def _names(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


def query_of(operation: dict[str, Any]) -> dict[str, str]:
    return {
        p["name"]: REQUIRED_QUERY[p["name"]]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


def example_body(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """The request's documented example, as ``httpx`` keyword arguments (``{}`` without a body)."""
    body = operation.get("requestBody")
    if body is None:
        return {}
    media_type, media = next(iter(body["content"].items()))
    examples = [example["value"] for example in media.get("examples", {}).values()]
    schema = resolve(document, media.get("schema", {}))
    examples += schema.get("examples", [])
    if "example" in media:
        examples.append(media["example"])
    if media_type == "application/json":
        return {"json": examples[0] if examples else {}}
    if media_type == "application/x-www-form-urlencoded":
        return {"data": {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "nothing"}}
    return {"content": examples[0] if examples else "", "headers": {"Content-Type": media_type}}


def raw(content: bytes, media_type: str) -> dict[str, Any]:
    """``httpx`` keyword arguments: ``content`` sent as ``media_type`` by the admin."""
    return {"content": content, "headers": {**ADMIN, "Content-Type": media_type}}


def merge_headers(kwargs: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {**kwargs, "headers": {**kwargs.get("headers", {}), **headers}}


async def make_client(gw: httpx.AsyncClient, kind: str, codes: list[str]) -> dict[str, str]:
    response = await gw.post("/v1/clients", json={"name": kind, "kind": kind, "org_codes": codes}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["api_key"]}


async def test_every_operation_answers_only_what_it_documents(edge: tuple[Gateway, dict[str, Faulty]]) -> None:
    gateway, transports = edge
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as gw:
        document: dict[str, Any] = (await gw.get("/openapi.json")).json()
        contract = Contract(document)
        run = Run(gw, contract)
        ops = sorted(contract.operations.items())

        # A little register, so that some calls get past "not found".
        await run.call("setup", "POST", "/v1/icbs", "/v1/icbs", json={"code": "QHM", "name": "N"}, headers=ADMIN)
        pcn = {"code": "U00001", "name": "P", "icb_code": "QHM", "practice_codes": ["A00001"], "list_size": 9000}
        await run.call("setup", "POST", "/v1/pcns", "/v1/pcns", json=pcn, headers=ADMIN)
        limited = await make_client(gw, LIMITED_KIND, ["QHM"])
        dashboard = await make_client(gw, "dashboard", ["QHM"])
        practice = await make_client(gw, "practice_system", ["A00001"])
        await gw.get("/v1/icbs", headers=limited)  # the limited client's one token

        for (method, template), op in ops:
            path = fill(template, UNKNOWN)
            query = query_of(op)
            body = example_body(document, op)
            v1 = template.startswith("/v1/")
            public = template in PUBLIC_PATHS or not v1

            # 431: too many header fields, before anything else.
            many = {f"X-Filler-{i}": "x" for i in range(gateway.settings.max_header_count + 1)}
            await run.call("headers", method, template, path, params=query, headers=many, expect={431})
            if not v1:
                await run.call("plain", method, template, path, expect=None)
                continue
            if not public:
                await run.call("no-credentials", method, template, path, params=query, **body, expect={401})
                await run.call(
                    "rate-limited", method, template, path, params=query, **merge_headers(body, limited), expect={429}
                )
            if "requestBody" in op:
                limit = MAX_BULK_BODY if template in ("/v1/workload", "/v1/list-sizes") else MAX_BODY
                big = raw(b"[" + b" " * limit + b"]", "application/json")
                await run.call("too-large", method, template, path, params=query, **big, expect={413})
                plain = raw(b"hello", "text/plain")
                await run.call("text/plain", method, template, path, params=query, **plain, expect=None)
                if "application/json" in op["requestBody"]["content"]:
                    # With a made-up id, some operations look it up first (404): held to the contract all the same.
                    checked = {422} if not _names(template) else None
                    bad = raw(b'"not a body"', "application/json")
                    await run.call("bad-body", method, template, path, params=query, **bad, expect=checked)
                    unreadable = raw(b'{"\xff": 1}', "application/json")
                    await run.call("unreadable", method, template, path, params=query, **unreadable)
            if any(p["name"] == "limit" for p in op.get("parameters", [])):
                await run.call("bad-query", method, template, path, params={**query, "limit": "0"}, headers=ADMIN)
            ids = _names(template)
            if ids:
                dotted = fill(template, {**UNKNOWN, ids[-1]: "%2E"})
                await run.call("dot-segment", method, template, dotted, params=query, headers=ADMIN, expect={400})
                malformed = fill(template, dict.fromkeys(ids, "%21"))
                await run.call("malformed-id", method, template, malformed, params=query, **merge_headers(body, ADMIN))
            extra = {"If-Match": "*"} if any(p["name"] == "If-Match" for p in op.get("parameters", [])) else {}
            await run.call(
                "unknown-ids", method, template, path, params=query, **merge_headers(body, {**ADMIN, **extra})
            )
            if not public:
                for who, key in (("dashboard", dashboard), ("practice-system", practice)):
                    await run.call(who, method, template, path, params=query, **merge_headers(body, {**key, **extra}))
            owner = owner_of(template)
            if owner is not None:
                for status, fault in FAULTS.items():
                    transports[owner].fault = fault
                    try:
                        kwargs = merge_headers(body, {**ADMIN, **extra})
                        await run.call(
                            f"upstream-{status}", method, template, path, params=query, **kwargs, expect={status}
                        )
                    finally:
                        transports[owner].fault = None
            elif not public:  # the gateway's own operations that read the services (scorecards)
                for faulty in transports.values():
                    faulty.fault = httpx.ConnectError
                try:
                    kwargs = merge_headers(body, {**ADMIN, **extra})
                    await run.call("upstreams-down", method, template, path, params=query, **kwargs)
                finally:
                    for faulty in transports.values():
                        faulty.fault = None

        # What a route answers from the state of what it acts on, once each.
        taken = {"code": "QHM", "name": "Again"}
        await run.call("conflict", "POST", "/v1/icbs", "/v1/icbs", json=taken, headers=ADMIN, expect={409})
        edit = {"name": "Renamed"}
        await run.call(
            "no-if-match", "PATCH", "/v1/pcns/{pcn_code}", "/v1/pcns/U00001", json=edit, headers=ADMIN, expect={428}
        )
        stale = {**ADMIN, "If-Match": '"stale"'}
        await run.call(
            "stale", "PATCH", "/v1/pcns/{pcn_code}", "/v1/pcns/U00001", json=edit, headers=stale, expect={412}
        )
        table = raw(b"x", "text/plain")
        await run.call("media-type", "POST", "/v1/rates/imports", "/v1/rates/imports", **table, expect={415})
        conditional: dict[str, int] = {}
        for (method, template), op in ops:
            if method == "GET" and "304" in op["responses"]:
                known = {"pcn_code": "U00001", "fy": "2024-25", "role_code": "clinical_pharmacist"}
                path, query = fill(template, known), query_of(op)
                first = await run.call("read", method, template, path, params=query, headers=ADMIN)
                conditional[template] = first.status_code
                if first.status_code == 200 and "etag" in first.headers:
                    again = {**ADMIN, "If-None-Match": first.headers["etag"]}
                    answer = await run.call(
                        "not-modified", method, template, path, params=query, headers=again, expect={304}
                    )
                    conditional[template] = answer.status_code
        # Every operation that documents a 304 answers one to its own ETag.
        assert {t: s for t, s in conditional.items() if s != 304} == {}

    assert not run.problems, f"{len(run.problems)} answers outside the contract:\n" + "\n".join(run.problems)

    documented = {status for op in contract.operations.values() for status in op["responses"]}
    unreached = {
        status
        for status in documented
        if (status.startswith(("4", "5")) or status == "304")
        and status not in run.reached
        and status not in REACHED_ELSEWHERE
    }
    assert not unreached, f"documented, never answered here nor listed in REACHED_ELSEWHERE: {sorted(unreached)}"
