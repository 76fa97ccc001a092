"""The audit log: every state-changing request through the gateway, who, what, when, and how it ended.

An event is recorded once the answer's status is known, after the answer has gone. One writer task
per gateway writes the events in order, in batches: one transaction carries every event recorded
while the previous one was being written, with one multi-row insert (SQLAlchemy Core). A write
through the gateway used to cost it 1.1 ms of CPU for its own row (a worker thread, an ORM object, a
transaction of its own); ``bench/RESULTS.md`` has what it costs now.

What that changes for a reader: an event is in the database a moment after its answer (the time
of one insert, longer under load), not before the request ends. ``GET /v1/audit-events`` waits for
the events this replica has recorded so far (:meth:`AuditLog.flush`) before it reads, and a gateway
that stops writes every event it holds first. An event the database refuses is logged whole and
counted (``arrs_gateway_audit_failures_total``), as before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio.to_thread

from arrs_kit.db import Database
from arrs_kit.principal import Principal
from gateway import repository
from gateway.clock import now_utc
from gateway.telemetry import AUDIT_FAILURES

log = logging.getLogger("arrs.audit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

MAX_BATCH = 500
"""At most this many events in one transaction."""


def outcome_of(status: int) -> str:
    return "success" if status < 400 else "refused" if status < 500 else "error"


class AuditLog:
    """Records one event per state-changing request; :meth:`flush` waits until all recorded so far
    are written (or have failed and been logged)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[dict[str, Any]] = []
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._written: asyncio.Event | None = None

    async def record(
        self,
        *,
        request_id: str,
        correlation_id: str | None,
        source_ip: str | None,
        principal: Principal | None,
        method: str,
        path: str,
        status: int,
    ) -> None:
        self._pending.append(
            {
                "at": now_utc(),
                "request_id": request_id,
                "correlation_id": correlation_id,
                "source_ip": source_ip[:45] if source_ip else None,
                "client_id": principal.client_id if principal else None,
                "kind": principal.kind if principal else None,
                "method": method,
                "path": path[:500],
                "status": status,
                "outcome": outcome_of(status),
            }
        )
        self._start()

    def _start(self) -> None:
        if self._writer is None or self._writer.done():
            self._wake = asyncio.Event()
            self._written = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="audit-writer")
        assert self._wake is not None and self._written is not None
        self._written.clear()
        self._wake.set()

    async def _write_forever(self) -> None:
        assert self._wake is not None and self._written is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._write(batch)
            self._written.set()

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            await anyio.to_thread.run_sync(self._insert, batch)
        except Exception:
            # The database refused them: the log keeps every event whole, and each failure is counted.
            AUDIT_FAILURES.inc(len(batch))
            for event in batch:
                log.exception(
                    "audit event not recorded", extra={"audit_event": {**event, "at": event["at"].isoformat()}}
                )

    def _insert(self, batch: list[dict[str, Any]]) -> None:
        with self.db.writer() as session:
            repository.add_audit_events(session, batch)
            session.commit()

    async def flush(self) -> None:
        """Wait until every event recorded so far is written (or has failed and been logged)."""
        if self._writer is None or self._written is None:
            return
        while self._pending or not self._written.is_set():
            if self._writer.done():
                self._writer.result()  # the writer died: say why
                return
            await self._written.wait()

    async def aclose(self) -> None:
        """Write what is held, then stop the writer."""
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
