"""The catalogue in memory: an immutable snapshot per catalogue version, and every read's answer
serialised once per version.

A catalogue is a few hundred rows that change a few times a year and are read on every claim and by
every dashboard. Reading them through the ORM on each request cost the most of a read's CPU. So:

- ``GET /v1/rates`` is computed from the snapshot's frozen rate periods (one Core query per version,
  no ORM), and its answer kept;
- the other catalogue reads (roles, a role, a template, the gaps) are built as before from a read
  session the first time a version is asked for them, and their answers kept;
- every later request of that version is answered from memory: no query, no thread hop. The ETag is
  the kept bytes' own, as before.

Freshness: ``catalogue_version`` (migration 0005) is moved by database triggers on every change of a
catalogue table. A replica reads that stamp at most every ``check_s`` seconds (``ROLES_CATALOGUE_CHECK_S``,
default 1) and loads the snapshot again when it moved. A write committed through this replica makes its
next read check at once; a change made through another replica (or by SQL) is served at most
``check_s`` late.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from arrs_kit.etag import conditional, response_etag
from roles import repository as repo

ANSWERS_KEPT = 512
"""Serialised answers kept per version (then the oldest half is dropped)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A rate period as the rate lists need it (:class:`roles.rules.PeriodLike`)."""

    id: int
    role_code: str
    geography: str
    afc_band: str | None
    effective_from: date
    annual_max_pence: int
    provenance: str
    supersedes_id: int | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A read's answer as sent: its bytes, the headers that describe them, and its strong ETag."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str

    def response(self) -> Response:
        return Response(self.body, headers=dict(self.headers))


def answer_of(response: Response) -> Answer:
    """Keep ``response`` (its body and describing headers; its length is recomputed when it is sent)."""
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in response.raw_headers
        if name.lower() != b"content-length"
    )
    return Answer(bytes(response.body), headers, response_etag(response))


Remembered = tuple[Answer, tuple[str, ...], str]
"""A request's kept answer, the request headers it varies on, and its route's template."""

KEPT_STATE = "roles.kept"
"""The key, in the request's ASGI ``state``, of the kept answer a read served (:func:`served`)."""


def served(request: Request, snapshot: Snapshot, kept: Answer, *, vary: Sequence[str] = ()) -> Response:
    """A kept answer as this request gets it (304 when its tag matches), noted for :mod:`roles.fastpath`."""
    request.scope["state"][KEPT_STATE] = (snapshot, kept, tuple(vary))
    return conditional(request, kept.response(), etag=kept.etag, vary=vary)


@dataclass(frozen=True)
class Snapshot:
    version: int
    names: Mapping[str, str]
    periods: Mapping[str, tuple[Period, ...]]
    _answers: dict[tuple[Any, ...], Answer] = field(default_factory=dict, compare=False, repr=False)
    _requests: dict[tuple[Any, ...], Remembered] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def kept(self, key: tuple[Any, ...]) -> Answer | None:
        return self._answers.get(key)

    def remembered(self, request_key: tuple[Any, ...]) -> Remembered | None:
        """The answer FastAPI gave this very request in this version (:mod:`roles.fastpath`)."""
        return self._requests.get(request_key)

    def remember(self, request_key: tuple[Any, ...], remembered: Remembered) -> None:
        with self._lock:
            if len(self._requests) >= ANSWERS_KEPT:
                for old in list(self._requests)[: ANSWERS_KEPT // 2]:
                    del self._requests[old]
            self._requests[request_key] = remembered

    def answer(self, key: tuple[Any, ...], build: Callable[[], Answer]) -> Answer:
        """The answer for ``key`` in this version: built once, then the same bytes."""
        kept = self._answers.get(key)
        if kept is not None:
            return kept
        made = build()
        with self._lock:
            if len(self._answers) >= ANSWERS_KEPT:
                for old in list(self._answers)[: ANSWERS_KEPT // 2]:
                    del self._answers[old]
            self._answers[key] = made
        return made


def _load(engine: Engine) -> Snapshot:
    """The stamp first, then the rows: rows newer than their stamp are loaded again at the next check,
    never served as older than they are."""
    with engine.connect() as conn:
        version = repo.catalogue_stamp(conn)
        names = repo.role_name_rows(conn)
        periods: dict[str, list[Period]] = {}
        for row in repo.period_rows(conn):
            periods.setdefault(row.role_code, []).append(Period(*row))
    return Snapshot(version, names, {code: tuple(rows) for code, rows in periods.items()})


class Catalogue:
    """The snapshot a replica serves, kept fresh by the version stamp."""

    def __init__(self, engine: Engine, *, check_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.check_s = check_s
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")
        self._generation = 0  # moved by every commit: a check that began before one does not count
        self._lock = threading.Lock()
        # Any commit through this replica's engine may have changed the catalogue: check at the next read.
        event.listen(engine, "commit", lambda _conn: self.invalidate())

    def invalidate(self) -> None:
        self._generation += 1
        self._checked_at = float("-inf")

    def if_fresh(self) -> Snapshot | None:
        """The snapshot when it was checked within ``check_s`` (no I/O), else None: call :meth:`current`."""
        snapshot = self._snapshot
        if snapshot is not None and self.clock() - self._checked_at < self.check_s:
            return snapshot
        return None

    def current(self) -> Snapshot:
        """The snapshot, its stamp checked (one indexed read) and reloaded if it moved. Blocking I/O."""
        fresh = self.if_fresh()
        if fresh is not None:
            return fresh
        with self._lock:
            fresh = self.if_fresh()
            if fresh is not None:
                return fresh
            checked_at, generation = self.clock(), self._generation
            with self.engine.connect() as conn:
                version = repo.catalogue_stamp(conn)
            snapshot = self._snapshot
            if snapshot is None or snapshot.version != version:
                snapshot = _load(self.engine)
            self._snapshot = snapshot
            if generation == self._generation:  # else a commit came meanwhile: check again next time
                self._checked_at = checked_at
            return snapshot


async def current_snapshot(request: Request) -> Snapshot:
    """The replica's snapshot; its stamp, when due a check, read off the event loop."""
    catalogue: Catalogue = request.app.state.catalogue
    snapshot = catalogue.if_fresh()
    if snapshot is None:
        snapshot = await run_in_threadpool(catalogue.current)
    return snapshot


async def kept_read(
    request: Request, key: tuple[Any, ...], build: Callable[[Session], Response]
) -> tuple[Snapshot, Answer]:
    """A catalogue read's answer for ``key``, serialised once per catalogue version: ``build`` makes it
    from a read session on the first request of a version (in a worker thread); every later request
    of that version is answered from memory, with no thread hop and no query. ``key`` names everything
    the answer depends on (every reader of the catalogue is given the same answer)."""
    snapshot = await current_snapshot(request)
    kept = snapshot.kept(key)
    if kept is not None:
        return snapshot, kept

    def make() -> Answer:
        with request.app.state.db.reader() as session:
            return answer_of(build(session))

    return snapshot, await run_in_threadpool(snapshot.answer, key, make)
