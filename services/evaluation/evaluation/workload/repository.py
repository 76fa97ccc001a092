"""Every query of workload and list sizes: the bulk load (stage, merge) and the paged reads.

A bulk load runs on one connection of its own (:func:`bulk_connection`), because the rows are
staged in a temporary table of that connection:

- **PostgreSQL**: ``COPY … FROM STDIN`` (psycopg 3, text format) into a temporary table with no
  index while the body streams, then, once it has all arrived, the merge into the real table; all in
  one transaction. The merge runs **one** statement on each path (:func:`merge` lists them, with their
  seconds, in the service's log):

  1. ``check``: does the table hold anything of the batch's practice-periods (``Target.period``)?
     A hash of the staged periods (6,667 for a million weekly records), each looked up in the
     primary key: 0.2 s for a million staged rows against a million stored ones.
  2. None stored (the weekly case: a new week's records, a first upload): every key is new, so a
     plain ``INSERT … SELECT`` in a savepoint; inserted is its row count, replaced 0. Should it meet
     a key after all (the batch names a key twice, or a writer stored one since the check: a unique
     violation), it is rolled back to the savepoint and the upsert of the last record of each key
     runs instead. A writer still holding one of the keys makes it wait like any insert: a deadlock
     between two crossing writers is still the service's 409.
  3. Some stored: ``INSERT … SELECT … ON CONFLICT DO UPDATE``, counting inserted against replaced
     keys with ``RETURNING (xmax = 0)``. It first assumes the batch names each key once (no sort); if
     PostgreSQL refuses because a key comes twice, it is rolled back to a savepoint and run again on
     the last record of each key only (``DISTINCT ON`` … ``ORDER BY seq DESC``).

  Why not always the upsert (issue 10 asked for "one ``INSERT … ON CONFLICT DO UPDATE``")? Measured
  by ``bench/ingest.py`` (a million weekly records, PostgreSQL 15, 2 CPUs), from a staging table into
  an empty table like ``workload``: a plain ``INSERT … SELECT`` 2.8–3.3 s, the upsert 5.4–6.5 s, COPY
  of the same rows 2.9–4.7 s. The upsert's speculative insertion probes the primary key before each
  row and writes a confirmation WAL record after it: alone it cost about twice COPY, and it can only
  start after the last byte, so uploads of new keys stayed at 30–35% of COPY's rate. With the plain
  insert they reach the figures in ``bench/RESULTS.md`` (ingest). Why the check, rather than trying
  the plain insert on every batch: a plain insert that meets a stored key late (new periods first,
  stored ones last) wastes its work and leaves its rows dead, so the upsert after it slowed too (2.9 s
  wasted, then 7.4 s instead of 5.4 s for the upsert, a million rows); the check costs 0.2 s and
  sends such a batch straight to the upsert. Tried and not adopted: inserting in primary-key order
  (``ORDER BY`` the key) to fill the B-tree sequentially, 4.5 s against 2.9 s, as the rows arrive
  practice by practice and week by week already (on shuffled rows it saved 1.2 s of 6.3 s: not the
  feeds' case).
- **SQLite**: batched ``executemany`` into a temporary table, in a transaction that holds no lock
  on the database; the merge then takes the write lock (``BEGIN IMMEDIATE``), counts the keys that
  exist (``check``), and upserts the last record of each key.

GPAD rows are added up per key instead (``sum``), with no minutes: a plain insert of the sums when
their months are new, else their upsert.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from psycopg.errors import CardinalityViolation, DeadlockDetected, SerializationFailure, UniqueViolation
from sqlalchemy import Connection, Row, insert, select, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlmodel import col

from arrs_kit.db import Database
from evaluation.models import idempotency_keys
from evaluation.workload.models import ListSize, Workload, WorkloadUpload

Writer = Callable[[list[tuple[Any, ...]]], None]


@dataclass(frozen=True, slots=True)
class Target:
    """A table a bulk upload merges into."""

    table: str
    key: tuple[str, ...]
    values: tuple[str, ...]
    period: tuple[str, ...]
    """The leading columns of ``key`` that name one practice's period: a batch none of whose periods
    is stored yet holds only new keys (the merge's fast path, PostgreSQL)."""
    stage_types: tuple[str, ...]
    """Column types of the staging table, key then values (PostgreSQL; SQLite takes them as given)."""
    copy_template: str
    """One row in COPY's text format, for ``%``."""
    nullable_last: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.key + self.values

    @property
    def stage(self) -> str:
        return f"{self.table}_stage"


WORKLOAD = Target(
    "workload",
    key=("practice_code", "grain", "period_start", "hcp_role", "national_category", "mode", "status"),
    values=("appointments", "minutes"),
    period=("practice_code", "grain", "period_start"),
    stage_types=("text", "text", "date", "text", "text", "text", "text", "bigint", "bigint"),
    copy_template="%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
    nullable_last=True,
)
LIST_SIZE = Target(
    "list_size",
    key=("practice_code", "month"),
    values=("registered_patients",),
    period=("practice_code", "month"),
    stage_types=("text", "date", "bigint"),
    copy_template="%s\t%s\t%d\n",
)


@contextmanager
def bulk_connection(db: Database) -> Iterator[Connection]:
    """A connection of its own for one bulk load; whatever is not committed is rolled back."""
    with db.engine.connect() as conn:
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            if db.is_sqlite:  # a temporary table would outlive the load on the pooled connection
                conn.invalidate()


def _copy_text(target: Target, rows: list[tuple[Any, ...]]) -> str:
    """The rows in COPY's text format, formatted in C (``str.__mod__`` over the batch).

    Values are validated codes, ISO dates and integers: nothing COPY's text format must escape. A
    missing value can only be the last column (``minutes``), which ``%s`` renders ``None``."""
    text = "".join(map(target.copy_template.__mod__, rows))
    return text.replace("\tNone\n", "\t\\N\n") if target.nullable_last else text


@contextmanager
def staged(conn: Connection, target: Target) -> Iterator[Writer]:
    """A temporary table for ``target``'s rows and a function that appends batches of rows to it, in
    the order they came (``seq``, numbered by the database as the rows arrive)."""
    if conn.dialect.name == "postgresql":
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(target.columns, target.stage_types, strict=True))
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {target.stage} (seq bigserial, {columns}) ON COMMIT DROP")
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {target.stage} ({', '.join(target.columns)}) FROM STDIN") as copy:

            def copy_rows(rows: list[tuple[Any, ...]]) -> None:
                copy.write(_copy_text(target, rows))

            yield copy_rows
        return
    # SQLite: rowid keeps the order the rows came in.
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{target.stage}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {target.stage} ({', '.join(target.columns)})")
    statement = f"INSERT INTO temp.{target.stage} VALUES ({', '.join('?' for _ in target.columns)})"

    def insert_rows(rows: list[tuple[Any, ...]]) -> None:
        conn.exec_driver_sql(statement, rows)

    yield insert_rows


def begin_merge(conn: Connection) -> None:
    """On SQLite, end the staging transaction (it locked nothing) and take the write lock for the
    merge; on PostgreSQL the load is one transaction throughout."""
    if conn.dialect.name == "sqlite":
        conn.commit()
        conn.execution_options(sqlite_begin="immediate")


def add_upload(conn: Connection, **values: Any) -> int:
    table = WorkloadUpload.__table__  # type: ignore[attr-defined]
    upload_id: int = conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
    return upload_id


def set_upload_counts(conn: Connection, upload_id: int, *, inserted: int, replaced: int) -> None:
    table = WorkloadUpload.__table__  # type: ignore[attr-defined]
    conn.execute(update(table).where(table.c.id == upload_id).values(inserted=inserted, replaced=replaced))


@dataclass(slots=True)
class Merged:
    """What a merge did: the keys it inserted and replaced, and the statements it ran, in order,
    with their seconds (one that failed and was rolled back is followed by the one that replaced it)."""

    inserted: int = 0
    replaced: int = 0
    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.steps.append((name, round(time.perf_counter() - started, 3)))


def merge(conn: Connection, target: Target, *, upload_id: int, summed: bool, staged_rows: int) -> Merged:
    """Upsert the staged rows into ``target``: the keys inserted and replaced, and how.

    A key whose stored values are already the ones posted is left alone (no new row version, and
    ``upload_id`` still names the upload that set them) but still counts as replaced: a resubmitted
    batch costs reads, not writes."""
    merged = Merged()
    if conn.dialect.name == "postgresql":
        _merge_postgres(conn, target, merged, upload_id=upload_id, summed=summed, staged_rows=staged_rows)
    else:
        _merge_sqlite(conn, target, merged, upload_id=upload_id, summed=summed)
    return merged


def _upsert(target: Target, source: str, upload_id: int) -> str:
    columns = ", ".join(target.columns)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in (*target.values, "upload_id"))
    stored = ", ".join(f"{target.table}.{name}" for name in target.values)
    posted = ", ".join(f"EXCLUDED.{name}" for name in target.values)
    return (
        f"INSERT INTO {target.table} AS {target.table} ({columns}, upload_id) "
        f"SELECT {columns}, {int(upload_id)} FROM {source} "
        f"ON CONFLICT ({', '.join(target.key)}) DO UPDATE SET {updates} WHERE ({stored}) IS DISTINCT FROM ({posted})"
    )


def _merge_postgres(
    conn: Connection, target: Target, merged: Merged, *, upload_id: int, summed: bool, staged_rows: int
) -> None:
    key = ", ".join(target.key)
    columns = ", ".join(target.columns)
    last_per_key = f"SELECT DISTINCT ON ({key}) {columns} FROM {target.stage} ORDER BY {key}, seq DESC"
    # GPAD rows: the appointments of each key added up (workload only); a key then comes once.
    sums = (
        f"SELECT {key}, sum(appointments) AS appointments, NULL::bigint AS minutes FROM {target.stage} GROUP BY {key}"
        if summed
        else None
    )

    def upsert(name: str, source: str | None) -> None:
        # RETURNING has the inserted and the changed rows; the keys in all are the source's rows.
        if source is None:
            statement, keys = _upsert(target, target.stage, upload_id), str(int(staged_rows))
            prefix = ""
        else:
            statement, keys = _upsert(target, "src", upload_id), "(SELECT count(*) FROM src)"
            prefix = f"src AS MATERIALIZED ({source}), "
        counted = (
            f"WITH {prefix}merged AS ({statement} RETURNING (xmax = 0) AS inserted) "
            f"SELECT count(*) FILTER (WHERE inserted), {keys} FROM merged"
        )
        with merged.step(name):
            inserted, total = conn.exec_driver_sql(counted).one()
        merged.inserted, merged.replaced = int(inserted), int(total) - int(inserted)

    with merged.step("check"):
        new_periods_only = not _any_period_stored(conn, target)
    if new_periods_only:
        # Every key is new (the weekly case): a plain insert, with no conflict handling to pay for.
        savepoint = conn.begin_nested()
        try:
            with merged.step("insert" if sums is None else "insert_sums"):
                merged.inserted = conn.exec_driver_sql(
                    f"INSERT INTO {target.table} ({columns}, upload_id) "
                    f"SELECT {columns}, {int(upload_id)} FROM {target.stage if sums is None else f'({sums}) src'}"
                ).rowcount
        except DBAPIError as exc:
            if not isinstance(exc.orig, UniqueViolation):  # a crossing writer (deadlock: 409), or worse
                raise
            # The batch names a key twice, or another upload stored one of its keys since the check.
            savepoint.rollback()
            if sums is None:
                upsert("upsert_last_per_key", last_per_key)
            else:
                upsert("upsert_sums", sums)
        else:
            savepoint.commit()
        return
    if sums is not None:
        upsert("upsert_sums", sums)
        return
    # Some of the periods are stored: the upsert, first assuming the batch names each key once (no sort).
    savepoint = conn.begin_nested()
    try:
        upsert("upsert", None)
    except DBAPIError as exc:
        if not isinstance(exc.orig, CardinalityViolation):  # not "a key came twice"
            raise
        savepoint.rollback()
        upsert("upsert_last_per_key", last_per_key)
    else:
        savepoint.commit()


def _any_period_stored(conn: Connection, target: Target) -> bool:
    """Whether the table holds anything of a period the staged rows are about: a hash of the staged
    periods (a few thousand for a national week), each looked up in the primary key."""
    period = ", ".join(target.period)
    matches = " AND ".join(f"t.{name} = s.{name}" for name in target.period)
    return bool(
        conn.exec_driver_sql(
            f"SELECT EXISTS (SELECT FROM (SELECT DISTINCT {period} FROM {target.stage}) s "
            f"WHERE EXISTS (SELECT FROM {target.table} t WHERE {matches}))"
        ).scalar_one()
    )


def _merge_sqlite(conn: Connection, target: Target, merged: Merged, *, upload_id: int, summed: bool) -> None:
    key = ", ".join(target.key)
    stage = f"temp.{target.stage}"
    matches = " AND ".join(f"t.{name} = s.{name}" for name in target.key)
    with merged.step("check"):
        total, replaced = conn.exec_driver_sql(
            f"SELECT count(*), coalesce(sum(EXISTS (SELECT 1 FROM {target.table} t WHERE {matches})), 0) "
            f"FROM (SELECT DISTINCT {key} FROM {stage}) s"
        ).one()
    if summed:
        source = f"SELECT {key}, sum(appointments) AS appointments, NULL AS minutes FROM {stage} GROUP BY {key}"
    else:
        # SQLite takes the bare columns of an aggregate query from the row with the max(): the last one.
        source = f"SELECT {', '.join(target.columns)}, max(rowid) FROM {stage} GROUP BY {key}"
    columns = ", ".join(target.columns)
    updates = ", ".join(f"{name} = excluded.{name}" for name in (*target.values, "upload_id"))
    changed = " OR ".join(f"{target.table}.{name} IS NOT excluded.{name}" for name in target.values)
    with merged.step("upsert_sums" if summed else "upsert_last_per_key"):
        conn.exec_driver_sql(
            f"INSERT INTO {target.table} ({columns}, upload_id) SELECT {columns}, {int(upload_id)} FROM ({source}) "
            f"WHERE true ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {changed}"
        )
    merged.inserted, merged.replaced = int(total) - int(replaced), int(replaced)


def lost_a_race(exc: BaseException) -> bool:
    """Whether the database aborted the merge because another transaction held the same keys in
    another order (PostgreSQL breaks the deadlock by aborting one of them): retrying succeeds."""
    return isinstance(exc, DBAPIError) and isinstance(exc.orig, DeadlockDetected | SerializationFailure)


def finished_request(session: Session, scope: str, key: str) -> Row[Any, Any, Any, Any] | None:
    """The stored answer of an Idempotency-Key already done (its request hash, status, body)."""
    t = idempotency_keys
    return session.execute(
        select(t.c.request_hash, t.c.response_status, t.c.response_body, t.c.location).where(
            t.c.scope == scope, t.c.key == key, t.c.state == "done"
        )
    ).one_or_none()


def session_on(conn: Connection) -> Session:
    """A session inside the connection's transaction (the idempotency store records through one)."""
    return Session(bind=conn)


def workload_page(
    session: Session,
    *,
    practice_code: str | None,
    grain: str | None,
    first: date | None,
    last: date | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[Workload]:
    key = [col(getattr(Workload, name)) for name in WORKLOAD.key]
    stmt = select(Workload).order_by(*key)
    if practice_code is not None:
        stmt = stmt.where(col(Workload.practice_code) == practice_code)
    if grain is not None:
        stmt = stmt.where(col(Workload.grain) == grain)
    if first is not None:
        stmt = stmt.where(col(Workload.period_start) >= first)
    if last is not None:
        stmt = stmt.where(col(Workload.period_start) <= last)
    if after is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*after))
    return session.scalars(stmt.limit(limit)).all()


def list_size_page(
    session: Session,
    *,
    practice_code: str | None,
    first: date | None,
    last: date | None,
    after: tuple[str, date] | None,
    limit: int,
) -> Sequence[ListSize]:
    stmt = select(ListSize).order_by(col(ListSize.practice_code), col(ListSize.month))
    if practice_code is not None:
        stmt = stmt.where(col(ListSize.practice_code) == practice_code)
    if first is not None:
        stmt = stmt.where(col(ListSize.month) >= first)
    if last is not None:
        stmt = stmt.where(col(ListSize.month) <= last)
    if after is not None:
        stmt = stmt.where(tuple_(col(ListSize.practice_code), col(ListSize.month)) > tuple_(*after))
    return session.scalars(stmt.limit(limit)).all()
