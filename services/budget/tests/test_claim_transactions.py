"""A claim's submission is one transaction (domain §6, Idempotency-Key), on both databases.

On PostgreSQL the ``Idempotency-Key`` is taken (an advisory lock on the key) and its answer recorded
in the submission's own transaction: one commit, with or without a key. SQLite commits the key on
its own first (a duplicate must see it while the first runs): two. A submission that fails leaves no
key behind, so the same key works once the claim fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from arrs_kit.testing import assert_problem

from .factories import act, draft, new_post, top_up

pytestmark = pytest.mark.usefixtures("register", "ledger_verified")


@contextmanager
def commits_of(app: FastAPI) -> Iterator[list[object]]:
    """The commits the app's database sees while the block runs (one entry each)."""
    seen: list[object] = []
    engine = app.state.db.engine

    def committed(connection: object) -> None:
        seen.append(connection)

    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", committed)


def keys(app: FastAPI) -> list[tuple[str, str]]:
    with app.state.db.reader() as session:
        return [(k, s) for k, s in session.execute(text("SELECT key, state FROM idempotency_key ORDER BY key"))]


async def test_a_submission_commits_once_with_or_without_a_key(
    budget_app: FastAPI, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 10_000_000)
    post_id = await new_post(pcn)
    plain, keyed = await draft(pcn, post_id, "2024-10"), await draft(pcn, post_id, "2024-11")
    with commits_of(budget_app) as without_key:
        assert (await act(pcn, plain["id"], "submit")).status_code == 200
    with commits_of(budget_app) as with_key:
        assert (await act(pcn, keyed["id"], "submit", **{"Idempotency-Key": "one"})).status_code == 200
    assert len(without_key) == 1
    assert len(with_key) == (2 if budget_app.state.db.is_sqlite else 1)
    assert keys(budget_app) == [("one", "done")]
    with commits_of(budget_app) as replayed:
        again = await act(pcn, keyed["id"], "submit", **{"Idempotency-Key": "one"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert replayed == []  # a replay writes nothing


async def test_a_failed_submission_leaves_its_key_free(
    budget_app: FastAPI, icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    claim = await draft(pcn, await new_post(pcn))
    key = {"Idempotency-Key": "too-early"}
    assert_problem(await act(pcn, claim["id"], "submit", **key), 409, "budget-exceeded")
    assert keys(budget_app) == []
    await top_up(icb, 10_000_000)
    first = await act(pcn, claim["id"], "submit", **key)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    assert keys(budget_app) == [("too-early", "done")]
