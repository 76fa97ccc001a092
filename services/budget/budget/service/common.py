"""What every operation of the budget service starts with: the clock, who a record says made a
change, code normalisation and the cursors of id-ordered lists."""

from __future__ import annotations

from datetime import UTC, datetime

from arrs_kit.pagination import InvalidCursor, decode_cursor
from arrs_kit.principal import Principal
from budget.domain import calendar
from budget.models import BY_MAX


def now() -> datetime:
    return datetime.now(UTC)


# Memberships change at midnight in England, not UTC.
today_in_england = calendar.today_in_england


def actor(principal: Principal) -> str:
    """Who a record says made a change: the client's display name (``Principal.actor``), never its
    internal id, which is a login name at the token endpoint; identity (scope, idempotency keys)
    stays on ``client_id``. Cut to the columns' length (display names may be longer)."""
    return principal.actor[:BY_MAX]


def normalise_code(code: str) -> str:
    return code.strip().upper()


ID_MAX = 2_147_483_647
"""Ids are ``Integer`` columns (32 bits on PostgreSQL), as the paths that take them say."""


def after_id(cursor: str | None) -> int | None:
    """The id a cursor of an id-ordered list holds (None for the first page): 422 ``invalid-cursor``
    for anything but an id this service could have issued."""
    after = decode_cursor(cursor, int)
    if after is None:
        return None
    if not 1 <= after[0] <= ID_MAX:
        raise InvalidCursor("The cursor does not belong to this list; start again without one.")
    return after[0]
