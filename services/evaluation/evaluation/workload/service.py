"""Uploads and reads of workload and list sizes: who may, the all-or-nothing rule, the transaction.

An upload reads its body as it streams (never whole), checks each record and stages the good ones.
Only once the **whole** body has arrived (the gateway's signature over it is checked at its last
chunk) is anything decided: a record outside the caller's practices refuses the batch with 403, any
bad record with 422 (the first 100 listed by line), and only a clean batch is merged and committed,
with its ``Idempotency-Key`` recorded in the same transaction. Nothing is written otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from arrs_kit.db import Database
from arrs_kit.idempotency import IdempotencyKeyReused, IdempotencyStore, Replay
from arrs_kit.pagination import InvalidCursor, decode_cursor, next_cursor_for
from arrs_kit.principal import Principal
from evaluation.changes import repository as changes
from evaluation.clients.budget import BudgetClient
from evaluation.kinds import PRACTICE_SYSTEM, UPLOADERS, is_admin
from evaluation.metrics import REFUSED_RECORDS, ROWS, UPLOADS
from evaluation.workload import repository
from evaluation.workload.errors import (
    InvalidRange,
    InvalidRecords,
    PracticeCodeRequired,
    PracticeNotFound,
    RecordsOutOfScope,
    UnsupportedMediaType,
    UploadConflict,
    UploadNotAllowed,
)
from evaluation.workload.parsing import Format, drain, media_format
from evaluation.workload.reading import Kind, Layout, Reader, Tally
from evaluation.workload.repository import LIST_SIZE, WORKLOAD
from evaluation.workload.schemas import ListSizeRecord, UploadResult, WorkloadRecord

log = logging.getLogger("arrs.evaluation.workload")


@dataclass(frozen=True, slots=True)
class Upload:
    """One bulk request as the service sees it."""

    kind: Kind
    principal: Principal
    content_type: str | None
    idempotency_key: str | None
    method: str
    path: str
    request_id: str | None

    @property
    def operation(self) -> str:
        return "post_workload" if self.kind is Kind.WORKLOAD else "post_list_sizes"


class _Hashed:
    """The body's chunks, hashed as they pass when an Idempotency-Key binds the request to its exact
    bytes: SHA-256 of ``method\\npath\\nmedia type\\n`` and then the body. Without a key nothing is
    hashed (the gateway's signature already covers the body)."""

    def __init__(self, chunks: Iterable[bytes], upload: Upload) -> None:
        self.chunks = iter(chunks)
        media = (upload.content_type or "").split(";")[0].strip().lower()
        prefix = f"{upload.method}\n{upload.path}\n{media}\n".encode()
        self.hash = hashlib.sha256(prefix) if upload.idempotency_key is not None else None

    def __iter__(self) -> Iterator[bytes]:
        if self.hash is None:
            yield from self.chunks
            return
        update = self.hash.update
        for chunk in self.chunks:
            update(chunk)
            yield chunk

    def hexdigest(self) -> str:
        assert self.hash is not None, "hashed only for a request with an Idempotency-Key"
        return self.hash.hexdigest()


def ingest(
    *, db: Database, store: IdempotencyStore, upload: Upload, chunks: Iterable[bytes]
) -> UploadResult | JSONResponse:
    """Read, check and (all or nothing) merge one upload; answers its counts or a replay."""
    body = _Hashed(chunks, upload)
    principal = upload.principal
    fmt = media_format(upload.content_type)
    if principal.kind not in UPLOADERS:
        drain(iter(body))
        raise UploadNotAllowed("Only a practice-system client (or an admin) posts workload and list sizes.")
    if fmt is None:
        drain(iter(body))
        raise UnsupportedMediaType(
            "Send application/json (an array), application/x-ndjson or text/csv, in UTF-8.",
            headers={"Accept-Post": "application/json, application/x-ndjson, text/csv"},
        )
    scope = f"{principal.client_id}:{upload.operation}"
    if upload.idempotency_key is not None:
        replay = _replay_if_done(db, scope, upload.idempotency_key, body)
        if replay is not None:
            return replay
    allowed = None if is_admin(principal) else frozenset(code.upper() for code in principal.org_codes)
    target = WORKLOAD if upload.kind is Kind.WORKLOAD else LIST_SIZE
    reader = Reader(upload.kind, fmt)
    tally = Tally(allowed)
    staged = 0
    started = time.perf_counter()
    with repository.bulk_connection(db) as conn:
        with repository.staged(conn, target) as write:
            for batch in reader.batches(body):
                rows = []
                for line, checked in batch:
                    if type(checked) is tuple:
                        if allowed is not None and checked[0] not in allowed:
                            tally.stray(line)
                        else:
                            rows.append(checked)
                    else:
                        tally.refuse(line, checked)  # type: ignore[arg-type]
                tally.received += len(batch)
                if rows and tally.clean:
                    write(rows)
                    staged += len(rows)
        # The whole body has arrived and its signature held: now, and only now, decide.
        read_s = time.perf_counter() - started
        _refuse_unless_clean(tally, fmt, reader, upload.kind.value)
        claim = None
        if upload.idempotency_key is not None:
            outcome = store.claim(db, scope=scope, key=upload.idempotency_key, request_hash=body.hexdigest())
            if isinstance(outcome, Replay):
                return outcome.response()
            claim = outcome
        try:
            repository.begin_merge(conn)
            gpad = reader.layout is Layout.GPAD
            upload_id = repository.add_upload(
                conn,
                kind=upload.kind.value,
                format="gpad_csv" if gpad else fmt.value,
                received=tally.received,
                inserted=0,
                replaced=0,
                uploaded_at=datetime.now(UTC),
                uploaded_by=principal.actor,
                client_id=principal.client_id,
                request_id=upload.request_id,
            )
            merged = repository.merge(conn, target, upload_id=upload_id, summed=gpad, staged_rows=staged)
            inserted, replaced = merged.inserted, merged.replaced
            repository.set_upload_counts(conn, upload_id, inserted=inserted, replaced=replaced)
            result = UploadResult(received=tally.received, inserted=inserted, replaced=replaced)
            if claim is not None:
                claim.record(repository.session_on(conn), status=200, body=result.model_dump())
            changes.count_data(conn, changes.WORKLOAD)  # last: the kept analyses are stale from here
            conn.commit()
            UPLOADS.labels(upload.kind.value, "merged").inc()
            ROWS.labels(upload.kind.value, "inserted").inc(inserted)
            ROWS.labels(upload.kind.value, "replaced").inc(replaced)
            log.info(
                "bulk upload merged",
                extra={
                    "kind": upload.kind.value,
                    "format": "gpad_csv" if gpad else fmt.value,
                    "received": tally.received,
                    "inserted": inserted,
                    "replaced": replaced,
                    "read_s": round(read_s, 3),
                    "merge_s": round(time.perf_counter() - started - read_s, 3),
                    "merge_steps": [{"step": name, "s": seconds} for name, seconds in merged.steps],
                },
            )
        except BaseException as exc:
            conn.rollback()
            if claim is not None:
                store.release(db, claim)
            if repository.lost_a_race(exc):
                raise UploadConflict(
                    "Another upload was writing some of the same keys at the same moment; nothing of this one "
                    "was recorded. Retry it (with the same Idempotency-Key, if it had one).",
                    headers={"Retry-After": "1"},
                ) from exc
            raise
    return result


def _replay_if_done(db: Database, scope: str, key: str, body: _Hashed) -> JSONResponse | None:
    """A key already done: read the body only to hash it, then replay (same bytes) or refuse (422),
    without parsing or staging anything. A key not done yet is claimed after the body is read."""
    with db.reader() as session:
        done = repository.finished_request(session, scope, key)
    if done is None:
        return None
    drain(iter(body))
    if done.request_hash != body.hexdigest():
        raise IdempotencyKeyReused("Use a new Idempotency-Key for a different request.")
    return Replay(done.response_status, json.loads(done.response_body), done.location).response()


def _refuse_unless_clean(tally: Tally, fmt: Format, reader: Reader, kind: str) -> None:
    if tally.out_of_scope:
        UPLOADS.labels(kind, "out_of_scope").inc()
        REFUSED_RECORDS.labels(kind, "out_of_scope").inc(tally.out_of_scope)
        lines = ", ".join(str(line) for line in tally.scope_lines[:10]) + (", …" if tally.out_of_scope > 10 else "")
        where = f"line {lines}" if tally.out_of_scope == 1 else f"lines {lines}"
        raise RecordsOutOfScope(
            f"{tally.out_of_scope} of {tally.received} records are for practices this client may not post for "
            f"({where}); nothing was recorded.",
            extra={"lines": tally.scope_lines, "out_of_scope_records": tally.out_of_scope},
        )
    if fmt is Format.CSV and not reader.header_seen and not tally.invalid:
        tally.refuse(1, [("header", "the CSV has no header row")])
    if tally.invalid:
        UPLOADS.labels(kind, "invalid").inc()
        REFUSED_RECORDS.labels(kind, "invalid").inc(tally.invalid)
        listed = len({problem["line"] for problem in tally.problems})
        raise InvalidRecords(
            f"{tally.invalid} of {tally.received} records are not valid; nothing was recorded. "
            f"The first {listed} are listed by line and field.",
            extra={"errors": tally.problems, "invalid_records": tally.invalid, "received": tally.received},
        )


def readable_practice(*, principal: Principal, budget: BudgetClient, practice_code: str | None) -> str | None:
    """The practice a read is about, if the caller may see it (404 otherwise); None: all (admin)."""
    if practice_code is None:
        if is_admin(principal):
            return None
        raise PracticeCodeRequired("Name the practice to read (practice_code); only an admin may read every practice.")
    code = practice_code.upper()
    if is_admin(principal):
        return code
    if principal.kind == PRACTICE_SYSTEM:
        visible = code in {org.upper() for org in principal.org_codes}
    else:
        visible = budget.practice(principal, code) is not None
    if not visible:
        raise PracticeNotFound(f"No practice {code}.")
    return code


def _check_range(first: Any, last: Any) -> None:
    if first is not None and last is not None and first > last:
        raise InvalidRange("from must not be after to.")


def list_workload(
    *,
    session: Session,
    practice_code: str | None,
    grain: str | None,
    first: date | None,
    last: date | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WorkloadRecord], str | None]:
    """Workload counts of a practice (or all, for an admin) in key order, a page at a time."""
    _check_range(first, last)
    after = _workload_cursor(cursor)
    rows = repository.workload_page(
        session, practice_code=practice_code, grain=grain, first=first, last=last, after=after, limit=limit + 1
    )
    page, next_cursor = next_cursor_for(rows, limit, _workload_key)
    return [WorkloadRecord.model_validate(row, from_attributes=True) for row in page], next_cursor


def _workload_key(row: Any) -> list[str]:
    period = row.period_start.isoformat()
    return [row.practice_code, row.grain, period, row.hcp_role, row.national_category, row.mode, row.status]


def _workload_cursor(cursor: str | None) -> list[Any] | None:
    key = decode_cursor(cursor, 7)
    if key is None:
        return None
    if not all(isinstance(part, str) for part in key):
        raise InvalidCursor("The cursor does not belong to this list; start again without one.")
    return [*key[:2], _cursor_date(str(key[2])), *key[3:]]


def _cursor_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidCursor("The cursor does not belong to this list; start again without one.") from exc


def list_list_sizes(
    *,
    session: Session,
    practice_code: str | None,
    first: date | None,
    last: date | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ListSizeRecord], str | None]:
    """List sizes of a practice (or all, for an admin) by practice and month, a page at a time."""
    _check_range(first, last)
    key = decode_cursor(cursor, str, str)
    after = None if key is None else (key[0], _cursor_date(key[1]))
    rows = repository.list_size_page(
        session, practice_code=practice_code, first=first, last=last, after=after, limit=limit + 1
    )
    page, next_cursor = next_cursor_for(rows, limit, lambda r: [r.practice_code, r.month.isoformat()])
    items = [
        ListSizeRecord(
            practice_code=r.practice_code, month=r.month.strftime("%Y-%m"), registered_patients=r.registered_patients
        )
        for r in page
    ]
    return items, next_cursor
