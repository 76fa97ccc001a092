"""Catalogue reads asked before, answered before FastAPI: its routing, dependencies and parameter
validation cost more than the rest of a kept read (``bench/RESULTS.md``, "Where a request's CPU goes").

The innermost middleware, inside the request id, the access log and the signature check. A catalogue
read that FastAPI has answered from a kept answer (:func:`roles.snapshot.served`) is remembered in
that catalogue version under what the answer can depend on: the path, the raw query, ``Accept``, the
caller's kind (every catalogue read admits a kind or refuses it, whoever the client) and today's date
in England (a read without ``on`` means today). The same request again, in the same version, gets
the same bytes and headers, 304 included, without FastAPI. Anything else (another version, a stale
snapshot, another query spelling, a refusal, an error) goes through FastAPI as before; a catalogue
write makes a new version, whose snapshot remembers nothing yet.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from arrs_kit.etag import conditional
from roles import calendar
from roles.snapshot import KEPT_STATE, Answer, Catalogue, Snapshot


class KeptReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if principal is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        accept = b""
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
                break
        key = (scope["path"], scope["query_string"], accept, principal.kind, calendar.today_in_england())
        catalogue: Catalogue = scope["app"].state.catalogue
        snapshot = catalogue.if_fresh()
        remembered = snapshot.remembered(key) if snapshot is not None else None
        if remembered is None:
            await self.app(scope, receive, send)
            self._remember(scope, catalogue, key)
            return
        answer, vary, template = remembered
        scope["state"]["route_template"] = template
        response = conditional(Request(scope), answer.response(), etag=answer.etag, vary=vary)
        await response(scope, receive, send)

    @staticmethod
    def _remember(scope: Scope, catalogue: Catalogue, key: tuple[object, ...]) -> None:
        kept: tuple[Snapshot, Answer, tuple[str, ...]] | None = scope["state"].pop(KEPT_STATE, None)
        template = getattr(scope.get("route"), "path", None)
        if kept is None or template is None:
            return  # not a kept read: refused, invalid, or not the catalogue's
        snapshot, answer, vary = kept
        # Remembered in the snapshot that made it, and only while it is current: a version that moved
        # during the request is never mixed in.
        if catalogue.if_fresh() is snapshot:
            snapshot.remember(key, (answer, vary, template))
