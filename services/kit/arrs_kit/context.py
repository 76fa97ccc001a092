"""Per-request context: the request id, set by the request middleware, read by logs and problems."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def safe_id(candidate: str | None) -> str | None:
    """``candidate`` when it is a safe token to log and echo, else None."""
    return candidate if candidate and _VALID_REQUEST_ID.match(candidate) else None


def accept_or_make_request_id(candidate: str | None) -> str:
    """Keep an id when it is a safe token (it is logged and echoed), else make one."""
    return safe_id(candidate) or uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()
