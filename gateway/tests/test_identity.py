"""API clients, keys, tokens, revocation, throttling, rate limits and the audit log, on both databases."""

from __future__ import annotations

import base64
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import create_engine, text
from starlette.types import ASGIApp

from arrs_kit import migrate
from arrs_kit.testing import BACKENDS, DatabaseFactory
from gateway.config import GatewaySettings
from gateway.identity.tokens import TOKEN_AUDIENCE, TOKEN_ISSUER
from gateway.main import Gateway, create_app

ADMIN_KEY = {"X-API-Key": "dev-admin-key"}
PROBLEM = "application/problem+json"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> object:
    url = database_factory.create("gateway", request.param, lambda u: migrate.upgrade("gateway", u))
    yield url
    database_factory.drop(url)


@pytest.fixture
def make_gateway(db_url: str, echo_upstream: ASGIApp) -> Callable[..., Gateway]:
    """A gateway on the test's database, with the echo app standing in for every service."""

    def make(**overrides: Any) -> Gateway:
        echo = httpx.ASGITransport(app=echo_upstream)
        app = create_app(
            GatewaySettings(database_url=db_url, **overrides),
            transports={"roles": echo, "budget": echo, "evaluation": echo},
            configure_logs=False,
        )
        return app

    return make


@pytest.fixture
async def gw(make_gateway: Callable[..., Gateway]) -> AsyncIterator[httpx.AsyncClient]:
    app = make_gateway()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client
    await app.aclose()


async def new_client(
    gw: httpx.AsyncClient, kind: str, org_codes: list[str], name: str = "test client"
) -> dict[str, Any]:
    response = await gw.post(
        "/v1/clients", json={"name": name, "kind": kind, "org_codes": org_codes}, headers=ADMIN_KEY
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def principal_seen(response: httpx.Response) -> str:
    headers = dict(response.json()["headers"])
    return str(headers["x-arrs-principal"])


async def test_admin_creates_clients_and_their_keys_work(gw: httpx.AsyncClient, db_url: str) -> None:
    icb = await new_client(gw, "icb", ["qhm"], "QHM digital team")
    assert icb["kind"] == "icb" and icb["org_codes"] == ["QHM"] and icb["client_id"] == icb["id"]
    assert icb["api_key"].startswith("arrs_") and icb["client_secret"]
    # The key authenticates as that client, and the service is told who it is.
    seen = await gw.get("/v1/pcns", headers={"X-API-Key": icb["api_key"]})
    assert seen.status_code == 200
    assert principal_seen(seen) == f"icb;{icb['id']};QHM;QHM%20digital%20team"
    # Shown once: the list never carries credentials, and the database holds only hashes.
    listed = (await gw.get("/v1/clients", headers=ADMIN_KEY)).json()["data"]
    assert [c["id"] for c in listed] == [icb["id"]]
    assert "api_key" not in listed[0] and "client_secret" not in listed[0]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_client")).mappings().one()
    engine.dispose()
    stored = " ".join(str(v) for v in row.values())
    assert icb["api_key"].partition(".")[2] not in stored and icb["client_secret"] not in stored


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("icb", []),
        ("icb", ["QHM", "QNQ"]),
        ("icb", ["Q-M"]),
        ("pcn", ["12345"]),
        ("practice_system", []),
        ("practice_system", ["A81001", "A81001"]),
        ("practice_system", ["81001A"]),
        ("dashboard", ["QHM", "QNQ"]),
        ("admin", ["QHM"]),
        ("root", []),
    ],
)
async def test_org_codes_must_fit_the_kind(gw: httpx.AsyncClient, kind: str, codes: list[str]) -> None:
    response = await gw.post("/v1/clients", json={"name": "x", "kind": kind, "org_codes": codes}, headers=ADMIN_KEY)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert (await gw.get("/v1/clients", headers=ADMIN_KEY)).json()["data"] == []


async def test_only_the_admin_manages_clients_and_reads_the_audit_log(gw: httpx.AsyncClient) -> None:
    pcn = await new_client(gw, "pcn", ["U12345"])
    key = {"X-API-Key": pcn["api_key"]}
    for method, path in [
        ("GET", "/v1/clients"),
        ("POST", "/v1/clients"),
        ("GET", "/v1/audit-events"),
        ("DELETE", f"/v1/clients/{pcn['id']}"),
    ]:
        response = await gw.request(
            method, path, headers=key, json={"name": "x", "kind": "admin"} if method == "POST" else None
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["type"] == "/problems/forbidden"


async def token(gw: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await gw.post(
        "/v1/oauth/token",
        content=f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}",
        headers=FORM,
    )


async def test_client_credentials_give_a_bearer_token(gw: httpx.AsyncClient) -> None:
    dash = await new_client(gw, "dashboard", [])
    response = await token(gw, dash["id"], dash["client_secret"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"
    seen = await gw.get("/v1/roles", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert principal_seen(seen) == f"dashboard;{dash['id']};;test%20client"
    basic = base64.b64encode(f"{dash['id']}:{dash['client_secret']}".encode()).decode()
    by_basic = await gw.post(
        "/v1/oauth/token", content="grant_type=client_credentials", headers={**FORM, "Authorization": f"Basic {basic}"}
    )
    assert by_basic.status_code == 200


@pytest.mark.parametrize(
    ("content", "headers", "status", "error"),
    [
        ("grant_type=password&client_id=a&client_secret=b", FORM, 400, "unsupported_grant_type"),
        ("grant_type=client_credentials", FORM, 400, "invalid_request"),
        ('{"grant_type": "client_credentials"}', {"Content-Type": "application/json"}, 400, "invalid_request"),
        ("grant_type=client_credentials&client_id=cl_nobody&client_secret=x", FORM, 401, "invalid_client"),
    ],
)
async def test_token_errors_speak_oauth_and_problem(
    gw: httpx.AsyncClient, content: str, headers: dict[str, str], status: int, error: str
) -> None:
    response = await gw.post("/v1/oauth/token", content=content, headers=headers)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_description"]
    assert body["type"] == "/problems/" + error.replace("_", "-") and body["status"] == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_revocation_stops_the_key_and_its_tokens_at_once(gw: httpx.AsyncClient) -> None:
    pcn = await new_client(gw, "pcn", ["U12345"])
    key = {"X-API-Key": pcn["api_key"]}
    bearer = {"Authorization": "Bearer " + (await token(gw, pcn["id"], pcn["client_secret"])).json()["access_token"]}
    assert (await gw.get("/v1/posts", headers=key)).status_code == 200
    assert (await gw.get("/v1/posts", headers=bearer)).status_code == 200  # both now cached
    assert (await gw.delete(f"/v1/clients/{pcn['id']}", headers=ADMIN_KEY)).status_code == 204
    for headers in (key, bearer):
        response = await gw.get("/v1/posts", headers=headers)
        assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert (await token(gw, pcn["id"], pcn["client_secret"])).status_code == 401
    assert (await gw.delete(f"/v1/clients/{pcn['id']}", headers=ADMIN_KEY)).status_code == 204  # idempotent
    listed = (await gw.get("/v1/clients", headers=ADMIN_KEY)).json()["data"]
    assert listed[0]["revoked_by"] == "bootstrap-admin"
    missing = await gw.delete(f"/v1/clients/cl_{'0' * 32}", headers=ADMIN_KEY)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/client-not-found"


def forge(claims: dict[str, Any], key: str, kid: str) -> str:
    now = int(time.time())
    base = {"iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    return jwt.encode({**base, **claims}, key, algorithm="HS256", headers={"kid": kid})


async def test_tokens_signed_elsewhere_expired_or_tampered_are_refused(gw: httpx.AsyncClient) -> None:
    pcn = await new_client(gw, "pcn", ["U12345"])
    claims = {"sub": pcn["id"], "kind": "admin", "orgs": []}
    dev_key = "dev-token-signing-key-change-me-0123456789"
    cases = {
        "unknown key id": forge(claims, dev_key, "other"),
        "wrong key": forge(claims, "x" * 40, "dev-1"),
        "expired": forge({**claims, "exp": int(time.time()) - 5}, dev_key, "dev-1"),
        "other audience": forge({**claims, "aud": "elsewhere"}, dev_key, "dev-1"),
        "alg none": jwt.encode({**claims, "exp": int(time.time()) + 60}, None, algorithm="none"),
    }
    for name, forged in cases.items():
        response = await gw.get("/v1/posts", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, name
    # A well-signed token's claims are not trusted over the register: kind and orgs come from the client.
    genuine = forge(claims, dev_key, "dev-1")
    assert principal_seen(await gw.get("/v1/posts", headers={"Authorization": f"Bearer {genuine}"})).startswith("pcn;")


async def test_signing_keys_rotate_without_downtime(make_gateway: Callable[..., Gateway]) -> None:
    old, new = "o" * 40, "n" * 40
    before = make_gateway(token_keys={"k1": old}, token_signing_key_id="k1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=before), base_url="http://g") as gw:
        dash = await new_client(gw, "dashboard", [])
        old_token = (await token(gw, dash["id"], dash["client_secret"])).json()["access_token"]
    during = make_gateway(token_keys={"k1": old, "k2": new}, token_signing_key_id="k2")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=during), base_url="http://g") as gw:
        assert (await gw.get("/v1/roles", headers={"Authorization": f"Bearer {old_token}"})).status_code == 200
        new_token = (await token(gw, dash["id"], dash["client_secret"])).json()["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    after = make_gateway(token_keys={"k2": new}, token_signing_key_id="k2")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=after), base_url="http://g") as gw:
        assert (await gw.get("/v1/roles", headers={"Authorization": f"Bearer {old_token}"})).status_code == 401
        assert (await gw.get("/v1/roles", headers={"Authorization": f"Bearer {new_token}"})).status_code == 200
    for app in (before, during, after):
        await app.aclose()


async def test_repeated_failures_are_throttled(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway(auth_failures_allowed=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as gw:
        pcn = await new_client(gw, "pcn", ["U12345"])
        wrong = pcn["api_key"][:-4] + "AAAA"
        statuses = [(await gw.get("/v1/posts", headers={"X-API-Key": wrong})).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        blocked = await gw.get("/v1/posts", headers={"X-API-Key": wrong})
        assert int(blocked.headers["retry-after"]) >= 1
        token_statuses = [(await token(gw, pcn["id"], "wrong")).status_code for _ in range(4)]
        assert token_statuses == [401, 401, 401, 429]
    await app.aclose()


async def test_rate_limits_per_client_kind(make_gateway: Callable[..., Gateway]) -> None:
    app = make_gateway(rate_limits={"pcn": (0.01, 2)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as gw:
        pcn = await new_client(gw, "pcn", ["U12345"])
        other = await new_client(gw, "pcn", ["U54321"])
        statuses = [(await gw.get("/v1/posts", headers={"X-API-Key": pcn["api_key"]})).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = await gw.get("/v1/posts", headers={"X-API-Key": pcn["api_key"]})
        assert limited.json()["type"] == "/problems/too-many-requests" and int(limited.headers["retry-after"]) > 1
        assert (await gw.get("/v1/posts", headers={"X-API-Key": other["api_key"]})).status_code == 200  # per client
        assert [(await gw.get("/v1/posts", headers=ADMIN_KEY)).status_code for _ in range(5)] == [200] * 5  # admin free
    await app.aclose()


async def test_rate_limits_shared_through_redis(make_gateway: Callable[..., Gateway]) -> None:
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    url = "redis://127.0.0.1:6379/15"
    one, two = (
        make_gateway(rate_limits={"pcn": (0.01, 3)}, rate_limit_redis_url=url),
        make_gateway(rate_limits={"pcn": (0.01, 3)}, rate_limit_redis_url=url),
    )
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=one), base_url="http://g") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=two), base_url="http://g") as b,
    ):
        pcn = await new_client(a, "pcn", ["U12345"])
        key = {"X-API-Key": pcn["api_key"]}
        statuses = [(await gw.get("/v1/posts", headers=key)).status_code for gw in (a, b, a, b)]
        assert statuses == [200, 200, 200, 429]  # one bucket for both replicas
    await one.aclose()
    await two.aclose()


async def test_state_changes_are_audited(gw: httpx.AsyncClient) -> None:
    pcn = await new_client(gw, "pcn", ["U12345"])
    await gw.post("/v1/posts", json={"x": 1}, headers={"X-API-Key": pcn["api_key"], "X-Request-ID": "audit-1"})
    await gw.get("/v1/posts", headers={"X-API-Key": pcn["api_key"]})  # reads are not audited
    await gw.post("/v1/posts", json={}, headers={"X-API-Key": "arrs_bad.key", "X-Request-ID": "audit-2"})
    events = (await gw.get("/v1/audit-events", headers=ADMIN_KEY)).json()["data"]
    fields = ("method", "path", "status", "outcome", "client_id", "correlation_id")
    assert [tuple(e[f] for f in fields) for e in events] == [
        ("POST", "/v1/posts", 401, "refused", None, "audit-2"),
        ("POST", "/v1/posts", 200, "success", pcn["id"], "audit-1"),
        ("POST", "/v1/clients", 201, "success", "bootstrap-admin", None),
    ]
    # The platform's own request ids: each one distinct, whatever the clients sent.
    assert len({e["request_id"] for e in events}) == 3 and not {"audit-1", "audit-2"} & {
        e["request_id"] for e in events
    }
    mine = (await gw.get("/v1/audit-events", params={"client_id": pcn["id"]}, headers=ADMIN_KEY)).json()["data"]
    assert [e["correlation_id"] for e in mine] == ["audit-1"]
    page = (await gw.get("/v1/audit-events", params={"limit": 2}, headers=ADMIN_KEY)).json()
    rest = (
        await gw.get("/v1/audit-events", params={"limit": 2, "cursor": page["next_cursor"]}, headers=ADMIN_KEY)
    ).json()
    assert [e["id"] for e in page["data"] + rest["data"]] == [e["id"] for e in events]


async def test_audit_events_cannot_be_edited_or_deleted(gw: httpx.AsyncClient, db_url: str) -> None:
    from sqlalchemy.exc import DBAPIError

    await new_client(gw, "dashboard", [])
    # Reading the log waits for the events recorded so far to be written.
    assert (await gw.get("/v1/audit-events", headers=ADMIN_KEY)).json()["data"]
    engine = create_engine(db_url)
    try:
        for statement in ("UPDATE audit_event SET status = 200", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        engine.dispose()


async def test_a_rate_limit_store_that_is_down_lets_requests_through(make_gateway: Callable[..., Gateway]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_gateway(rate_limits={"pcn": (0.01, 1)}, rate_limit_redis_url=f"redis://127.0.0.1:{port}/0")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as gw:
        pcn = await new_client(gw, "pcn", ["U12345"])
        statuses = [(await gw.get("/v1/posts", headers={"X-API-Key": pcn["api_key"]})).status_code for _ in range(3)]
    await app.aclose()
    assert statuses == [200, 200, 200]


async def test_logs_carry_the_principal_and_request_id_never_a_credential(
    gw: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging

    from arrs_kit.logs import JsonFormatter

    pcn = await new_client(gw, "pcn", ["U12345"])
    secret = pcn["api_key"]
    with caplog.at_level(logging.DEBUG):
        await gw.get("/v1/posts", params={"q": "1"}, headers={"X-API-Key": secret, "X-Request-ID": "log-2"})
        bearer = (await token(gw, pcn["id"], pcn["client_secret"])).json()["access_token"]
        await gw.get("/v1/posts", headers={"Authorization": f"Bearer {bearer}"})
    lines = [JsonFormatter().format(record) for record in caplog.records]
    text = "\n".join(lines)
    for credential in (secret, secret.partition(".")[2], pcn["client_secret"], bearer):
        assert credential not in text
    access = [entry for entry in map(json.loads, lines) if entry["logger"] == "arrs.access"]
    first = next(line for line in access if line.get("correlation_id") == "log-2")
    assert first["request_id"] != "log-2"
    assert (first["principal"], first["status"], first["path"]) == (pcn["id"], 200, "/v1/posts")


def test_verified_tokens_are_remembered_safely(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.identity.clients import ClientRecord
    from gateway.identity.tokens import TokenIssuer

    issuer = TokenIssuer({"k1": "a" * 40}, "k1", ttl_s=600)
    record = ClientRecord("cl_x", "test client", "pcn", ("U12345",), "kid", "s", "h", "s", "h", revoked=False)
    token = issuer.issue(record)
    decodes = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr("gateway.identity.tokens.jwt.decode", counting_decode)
    assert issuer.verify(token) is not None and issuer.verify(token) is not None
    assert decodes == 1  # the signature is checked once
    head, body, signature = token.split(".")
    tampered = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert issuer.verify(f"{head}.{tampered}.{signature}") is None  # a tampered token is never a hit
    issuer.keys["k1"] = "b" * 40  # its key changed: checked afresh, and refused
    assert issuer.verify(token) is None
    issuer.keys["k1"] = "a" * 40
    assert issuer.verify(token) is not None
    claims = issuer.verify(token)
    assert claims is not None
    before = decodes
    monkeypatch.setattr("gateway.identity.tokens.time.time", lambda: claims["exp"] + 1)  # past its expiry
    issuer.verify(token)
    assert decodes == before + 1  # an expired entry is never served from memory: the token is checked again
