"""The shared plumbing, piece by piece."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from arrs_kit.context import accept_or_make_request_id
from arrs_kit.db import Database
from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.pagination import InvalidCursor, csv_response, decode_cursor, encode_cursor, next_cursor_for
from arrs_kit.principal import Principal, digest_header, principal_headers, verify_headers
from arrs_kit.problems import PreconditionFailed, PreconditionRequired
from arrs_kit.settings import ServiceSettings, normalise_database_url
from arrs_kit.types import BoundedDate


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///var/x.db", "sqlite:///var/x.db"),
    ],
)
def test_plain_postgres_urls_map_to_the_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected
    assert ServiceSettings(database_url=given).database_url == expected


def test_production_refuses_the_development_defaults() -> None:
    with pytest.raises(ValidationError, match="ARRS_GATEWAY_SECRET"):
        ServiceSettings(ARRS_ENV="production")
    with pytest.raises(ValidationError, match="at least 32"):
        ServiceSettings(ARRS_ENV="production", ARRS_GATEWAY_SECRET="short")
    assert ServiceSettings(ARRS_ENV="production", ARRS_GATEWAY_SECRET="s" * 40).env == "production"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARRS_ENV", "test")
    monkeypatch.setenv("ARRS_GATEWAY_SECRET", "k-123")
    monkeypatch.setenv("ENV", "staging")  # only the ARRS_ names count
    monkeypatch.setenv("GATEWAY_SECRET", "not-this")
    settings = ServiceSettings()
    assert settings.env == "test"
    assert settings.gateway_secret.get_secret_value() == "k-123"
    assert "k-123" not in repr(settings)


def test_cursor_round_trip_and_refusals() -> None:
    token = encode_cursor(["clinical_pharmacist", "national"])
    assert "=" not in token
    assert decode_cursor(token, 2) == ["clinical_pharmacist", "national"]
    assert decode_cursor(None, 1) is None
    for bad in ["%%%", "bm90IGpzb24", encode_cursor(["a"]), encode_cursor([{"x": 1}, "b"])]:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, 2)


def test_next_cursor_only_when_more_rows_exist() -> None:
    rows = list(range(6))
    page, cursor = next_cursor_for(rows, 5, lambda r: (r,))
    assert page == [0, 1, 2, 3, 4]
    assert decode_cursor(cursor, 1) == [4]
    page, cursor = next_cursor_for(rows[:5], 5, lambda r: (r,))
    assert page == rows[:5] and cursor is None


def test_csv_flattens_nested_fields() -> None:
    class Item(BaseModel):
        code: str
        supervisor: dict[str, str]
        practices: list[str]
        share: str | None

    response = csv_response(
        [Item(code="A", supervisor={"name": "Dr X", "role": "GP"}, practices=["A81001", "A81002"], share=None)],
        next_cursor="abc",
        filename="items",
    )
    assert response.headers["x-next-cursor"] == "abc"
    rows = list(csv.DictReader(io.StringIO(bytes(response.body).decode())))
    assert rows == [
        {"code": "A", "supervisor_name": "Dr X", "supervisor_role": "GP", "practices": "A81001;A81002", "share": ""}
    ]


def test_if_match() -> None:
    etag = make_etag("role", "x", 3)
    require_if_match(etag, etag)
    require_if_match(f'"other", {etag}', etag)
    require_if_match("*", etag)
    with pytest.raises(PreconditionRequired):
        require_if_match(None, etag)
    with pytest.raises(PreconditionFailed):
        require_if_match(make_etag("role", "x", 2), etag)
    with pytest.raises(PreconditionFailed):
        require_if_match(f"W/{etag}", etag)  # strong comparison


def test_request_ids_are_kept_only_when_safe() -> None:
    assert accept_or_make_request_id("abc-123_X.y:z") == "abc-123_X.y:z"
    for unsafe in [None, "", "has space", "x" * 129, "new\nline", "ünï"]:
        made = accept_or_make_request_id(unsafe)
        assert made != unsafe and len(made) == 32


def test_principal_signature_binds_every_part_of_the_request() -> None:
    principal = Principal(kind="pcn", client_id="c1", org_codes=("U12345",), name="Riverside; PCN\nmanager")
    body = b'{"amount_pence": 100}'
    headers = principal_headers(
        principal,
        "secret",
        method="POST",
        path="/v1/claims/1/submit",
        query="x=1",
        body_digest=hashlib.sha256(body).digest(),
        request_id="rid-1",
        now=1_000_000,
    )

    def verify(**change: object) -> Principal | None:
        sent = dict(headers) | {"x-request-id": "rid-1"}
        for name in ("x-arrs-principal", "x-arrs-principal-issued", "x-arrs-principal-nonce", "content-digest"):
            if name in change:
                sent[name] = str(change.pop(name))
        if "x-request-id" in change:
            sent["x-request-id"] = str(change.pop("x-request-id"))
        args: dict[str, object] = {
            "method": "POST",
            "path": "/v1/claims/1/submit",
            "query": "x=1",
            "secret": "secret",
            "now": 1_000_030,
        }
        args.update(change)
        request = verify_headers(sent, **args)  # type: ignore[arg-type]
        return request.principal if request else None

    assert verify() == principal  # the display name survives the header, separators and all
    assert verify(secret="other-secret") is None
    assert verify(**{"x-arrs-principal": "admin;c1;U12345;"}) is None  # the principal changed
    assert verify(method="PUT") is None  # replayed on another method
    assert verify(path="/v1/claims/2/submit") is None  # or another path
    assert verify(query="x=2") is None  # or another query
    assert verify(query="") is None
    other_body = digest_header(hashlib.sha256(b'{"amount_pence": 999}').digest())
    assert verify(**{"content-digest": other_body}) is None  # or another body
    assert verify(**{"x-arrs-principal-nonce": "0" * 32}) is None  # or another nonce
    assert verify(**{"x-request-id": "rid-2"}) is None  # or another request id
    assert verify(now=1_000_061) is None  # too old
    assert verify(now=999_900) is None  # from the future
    assert verify(**{"x-arrs-principal-issued": "abc"}) is None
    assert verify_headers({}, method="GET", path="/", query="", secret="secret") is None
    # Kinds are the services' to name: one they do not know does not verify, nor does a malformed one.
    bad_kind = principal_headers(Principal(kind="root", client_id="c1"), "secret", method="GET", path="/", now=5)
    kinds = {"admin", "icb", "pcn", "practice_system", "dashboard"}
    assert verify_headers(bad_kind, method="GET", path="/", query="", secret="secret", now=5, kinds=kinds) is None
    for malformed in ("", "Admin", "pcn,icb", "x" * 41):
        odd = principal_headers(Principal(kind=malformed, client_id="c1"), "secret", method="GET", path="/", now=5)
        assert verify_headers(odd, method="GET", path="/", query="", secret="secret", now=5) is None


def test_dates_are_iso_strings_only() -> None:
    class M(BaseModel):
        day: BoundedDate

    assert M(day="2024-10-01").day.isoformat() == "2024-10-01"
    for bad in [0, 20241001, "2024-1-1", "2024-02-30", "1999-12-31", "2100-01-01", True]:
        with pytest.raises(ValidationError):
            M(day=bad)


def test_sqlite_writers_take_the_lock_at_begin(tmp_path: Path) -> None:
    """Two read-then-write transactions: the second cannot even read until the first commits."""
    db = Database(f"sqlite:///{tmp_path / 'locks.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    a_has_read = threading.Event()
    b_starting = threading.Event()
    b_has_read = threading.Event()
    errors: list[BaseException] = []
    b_saw_before_a_committed: list[bool] = []

    def writer_a() -> None:
        try:
            with db.writer() as session:
                n = session.execute(text("SELECT n FROM counter")).scalar_one()
                a_has_read.set()
                # B is on its way into its transaction. With deferred BEGIN it would read the old
                # value straight away; with BEGIN IMMEDIATE it is held at BEGIN until A commits, so
                # this bounded wait runs out (it is the negative case, not synchronisation).
                assert b_starting.wait(timeout=10)
                b_saw_before_a_committed.append(b_has_read.wait(timeout=2))
                session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def writer_b() -> None:
        b_starting.set()
        try:
            with db.writer() as session:
                n = session.execute(text("SELECT n FROM counter")).scalar_one()
                b_has_read.set()
                session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a = threading.Thread(target=writer_a)
    a.start()
    assert a_has_read.wait(timeout=10)
    b = threading.Thread(target=writer_b)
    b.start()
    a.join(timeout=30)
    b.join(timeout=30)
    assert not errors, errors
    assert b_saw_before_a_committed == [False]
    with db.reader() as session:
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 2  # no lost update
    db.dispose()
