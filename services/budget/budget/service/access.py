"""What every register operation starts with: the clock, code normalisation, ETags, and finding the
rows a principal may see or change (rules in :mod:`budget.scope`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from arrs_kit import calendar
from arrs_kit.etag import make_etag
from arrs_kit.pagination import InvalidCursor, decode_cursor
from arrs_kit.principal import Principal
from arrs_kit.problems import Forbidden
from budget import repository as repo
from budget import scope
from budget.errors import PcnNotFound
from budget.models import BY_MAX, Pcn

# One answer for an id that does not exist and for one outside the client's scope (domain §8): the
# detail names no id, so the two bodies are the same but for the request id and the path.
NO_PCN = "No PCN with this code that this client may read."
NO_POST = "No post with this id that this client may read."
NO_CLAIM = "No claim with this id that this client may read."


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


def pcn_etag(pcn: Pcn) -> str:
    return make_etag("pcn", pcn.code, pcn.version)


def list_scope(principal: Principal) -> scope.ListScope:
    """The rows of the register's lists this principal sees; 403 for those who may not list."""
    visible = scope.list_scope(principal)
    if visible is None:
        raise Forbidden("A practice system reads only its own practices (GET /v1/practices/{practice_code}).")
    return visible


def readable_pcn(session: Session, principal: Principal, code: str, *, for_update: bool = False) -> Pcn:
    """The PCN if this principal may read it; otherwise, as when there is none, 404."""
    pcn = repo.get_pcn(session, normalise_code(code), for_update=for_update)
    if pcn is None or not scope.may_read_pcn(principal, pcn_code=pcn.code, icb_code=pcn.icb_code):
        raise PcnNotFound(NO_PCN)
    return pcn


def require_manager(principal: Principal) -> None:
    """403 for the kinds of client that change no PCN at all (a body naming a PCN's ICB)."""
    if not scope.may_manage_pcns(principal):
        raise Forbidden("Only an admin or the PCN's ICB may change a PCN.")


def managed_pcn(session: Session, principal: Principal, code: str, *, for_update: bool = True) -> Pcn:
    """The PCN (locked for this transaction unless ``for_update`` is false) that an admin or its ICB
    changes: 404 when the principal may not read it, as when there is none; 403 when it may read it
    but not change it (the PCN itself, a dashboard)."""
    pcn = readable_pcn(session, principal, code, for_update=for_update)
    if not scope.may_manage_pcn(principal, icb_code=pcn.icb_code):
        raise Forbidden("Only an admin or the PCN's ICB may change a PCN, its weighted populations or its budget.")
    return pcn
