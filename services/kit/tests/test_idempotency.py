"""The idempotency store on both databases: claim, replay, reuse, in-progress, crash takeover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, create_engine, update

from arrs_kit.db import Database
from arrs_kit.idempotency import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IdempotencyStore,
    KeyLease,
    Replay,
    fingerprint,
    idempotency_table,
)
from arrs_kit.testing import BACKENDS, DatabaseFactory

metadata = MetaData()
table = idempotency_table(metadata)


def _create(url: str) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> object:
    url = database_factory.create("kit_idempotency", request.param, _create)
    database = Database(url)
    yield database
    database.dispose()
    database_factory.drop(url)


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint("POST", "/x", {"a": 1, "b": 2}) == fingerprint("POST", "/x", {"b": 2, "a": 1})
    assert fingerprint("POST", "/x", {"a": 1}) != fingerprint("POST", "/x", {"a": 2})
    assert fingerprint("POST", "/x", {"a": 1}) != fingerprint("POST", "/y", {"a": 1})


def test_claim_record_replay(db: Database) -> None:
    store = IdempotencyStore(table)
    claim = store.claim(db, scope="c1:op", key="k", request_hash="h1")
    assert isinstance(claim, KeyLease)
    with pytest.raises(IdempotencyKeyInProgress):
        store.claim(db, scope="c1:op", key="k", request_hash="h1")
    with db.writer() as session:
        claim.record(session, status=201, body={"id": 7}, location="/v1/things/7")
        session.commit()
    replay = store.claim(db, scope="c1:op", key="k", request_hash="h1")
    assert replay == Replay(201, {"id": 7}, "/v1/things/7")
    with pytest.raises(IdempotencyKeyReused):
        store.claim(db, scope="c1:op", key="k", request_hash="h2")
    # Another client's identical key is its own.
    assert isinstance(store.claim(db, scope="c2:op", key="k", request_hash="h2"), KeyLease)


def test_recording_rolls_back_with_the_work(db: Database) -> None:
    store = IdempotencyStore(table)
    claim = store.claim(db, scope="c1:op", key="k", request_hash="h")
    assert isinstance(claim, KeyLease)
    with db.writer() as session:
        claim.record(session, status=201, body={"id": 1})
        session.rollback()  # the work failed: its response must not be replayed
    store.release(db, claim)
    assert isinstance(store.claim(db, scope="c1:op", key="k", request_hash="h"), KeyLease)


def test_an_expired_claim_of_a_dead_process_is_taken_over(db: Database) -> None:
    store = IdempotencyStore(table)
    claim = store.claim(db, scope="c1:op", key="k", request_hash="h")
    assert isinstance(claim, KeyLease)
    with db.writer() as session:
        session.execute(update(table).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    assert isinstance(store.claim(db, scope="c1:op", key="k", request_hash="h"), KeyLease)
    with pytest.raises(IdempotencyKeyInProgress):
        store.claim(db, scope="c1:op", key="k", request_hash="h")
