"""The idempotency store on both databases: claim, replay, reuse, in-progress, crash takeover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, create_engine, select, update

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


# PostgreSQL: the key is taken in the transaction that does the work (IdempotencyStore.take).


@pytest.fixture
def pg(database_factory: DatabaseFactory) -> object:
    url = database_factory.create("kit_idempotency", "postgresql", _create)
    database = Database(url)
    yield database
    database.dispose()
    database_factory.drop(url)


def _rows(db: Database) -> list[tuple[str, str, int | None]]:
    with db.reader() as session:
        return [tuple(r) for r in session.execute(select(table.c.key, table.c.state, table.c.response_status))]


@pytest.mark.postgres
def test_a_key_is_taken_and_recorded_in_the_work_transaction(pg: Database) -> None:
    store = IdempotencyStore(table)
    with pg.writer() as first:
        lease = store.take(first, scope="c1:op", key="k", request_hash="h1")
        assert isinstance(lease, KeyLease) and not lease.stored
        assert _rows(pg) == []  # nothing is committed before the work
        with pg.writer() as duplicate:  # while the first runs, with the same body or another
            for request_hash in ("h1", "h2"):
                with pytest.raises(IdempotencyKeyInProgress):
                    store.take(duplicate, scope="c1:op", key="k", request_hash=request_hash)
                assert not duplicate.in_transaction()  # refused: nothing left open
            other = store.take(duplicate, scope="c2:op", key="k", request_hash="h1")  # another client's key
            assert isinstance(other, KeyLease)
            duplicate.rollback()
        lease.record(first, status=201, body={"id": 7}, location="/v1/things/7")
        first.commit()
    assert _rows(pg) == [("k", "done", 201)]
    with pg.writer() as retry:
        assert store.take(retry, scope="c1:op", key="k", request_hash="h1") == Replay(201, {"id": 7}, "/v1/things/7")
        assert not retry.in_transaction()  # replayed: the key's lock is given back at once
        with pytest.raises(IdempotencyKeyReused):
            store.take(retry, scope="c1:op", key="k", request_hash="h2")


@pytest.mark.postgres
def test_a_failed_request_leaves_its_key_free(pg: Database) -> None:
    store = IdempotencyStore(table)
    with pg.writer() as session:
        lease = store.take(session, scope="c1:op", key="k", request_hash="h")
        assert isinstance(lease, KeyLease)
        lease.record(session, status=201, body={"id": 1})
        session.rollback()  # the work failed: the key and its answer go with it
    assert _rows(pg) == []
    with pg.writer() as session:
        assert isinstance(store.take(session, scope="c1:op", key="k", request_hash="h"), KeyLease)


@pytest.mark.postgres
def test_a_key_committed_on_its_own_is_respected_and_taken_over_once_expired(pg: Database) -> None:
    """A key claimed the other way (its row committed before the work, as on SQLite or by a process of
    an earlier version) is in progress for a taker in the work's transaction until its lease expires;
    then it is taken over and its row completed."""
    store = IdempotencyStore(table)
    assert isinstance(store.claim(pg, scope="c1:op", key="k", request_hash="h"), KeyLease)
    with pg.writer() as session:
        with pytest.raises(IdempotencyKeyInProgress):
            store.take(session, scope="c1:op", key="k", request_hash="h")
        session.rollback()
        session.execute(update(table).values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    with pg.writer() as session:
        lease = store.take(session, scope="c1:op", key="k", request_hash="h")
        assert isinstance(lease, KeyLease) and lease.stored
        lease.record(session, status=200, body={"ok": True})
        session.commit()
    assert _rows(pg) == [("k", "done", 200)]


@pytest.mark.postgres
def test_a_key_committed_meanwhile_refuses_the_work(pg: Database) -> None:
    """Taken in the work's transaction, the key is written only at its end: had a request taking
    keys the other way committed it meanwhile, this one's work is refused (409), never done twice."""
    store = IdempotencyStore(table)
    with pg.writer() as session:
        lease = store.take(session, scope="c1:op", key="k", request_hash="h")
        assert isinstance(lease, KeyLease)
        assert isinstance(store.claim(pg, scope="c1:op", key="k", request_hash="h"), KeyLease)
        with pytest.raises(IdempotencyKeyInProgress):
            lease.record(session, status=201, body={"id": 1})
        session.rollback()
    assert _rows(pg) == [("k", "in_progress", None)]
