"""The audit log: every state-changing request through the gateway, who, what, when, and how it ended."""

from __future__ import annotations

import logging

import anyio.to_thread

from arrs_kit.db import Database
from arrs_kit.principal import Principal
from gateway import repository
from gateway.clock import now_utc
from gateway.models import AuditEvent
from gateway.telemetry import AUDIT_FAILURES

log = logging.getLogger("arrs.audit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def outcome_of(status: int) -> str:
    return "success" if status < 400 else "refused" if status < 500 else "error"


class AuditLog:
    """Records one event per state-changing request, in a transaction of its own, once the answer's
    status is known."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self, event: AuditEvent) -> None:
        with self.db.writer() as session:
            repository.add(session, event)
            session.commit()

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
        event = AuditEvent(
            at=now_utc(),
            request_id=request_id,
            correlation_id=correlation_id,
            source_ip=source_ip[:45] if source_ip else None,
            client_id=principal.client_id if principal else None,
            kind=principal.kind if principal else None,
            method=method,
            path=path[:500],
            status=status,
            outcome=outcome_of(status),
        )
        try:
            await anyio.to_thread.run_sync(self._insert, event)
        except Exception:
            # The database refused it: the log keeps the whole event, and the failure is counted.
            AUDIT_FAILURES.inc()
            log.exception("audit event not recorded", extra={"audit_event": event.model_dump(mode="json")})
