"""ETags: If-Match for resources that can be edited (optimistic concurrency), and conditional reads:
an ``ETag`` and a stated ``Cache-Control`` on a read's 200, and 304 to an ``If-None-Match`` that names
it (:func:`conditional`)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Header, Request, Response

from arrs_kit.problems import PreconditionFailed, PreconditionRequired

REQUIRED_HEADER = "x-required-header"
"""Marks a header parameter that the route declares optional (so that leaving it out is answered
428 by :func:`require_if_match`, not 422) but that the OpenAPI document states as required."""


IfMatchHeader = Annotated[
    str | None,
    Header(
        description="The ETag you last read (required: 428 when left out, 412 when stale).",
        json_schema_extra={REQUIRED_HEADER: True},
    ),
]
"""An ``If-Match`` parameter every call must send: documented as required, refused with 428 when
left out (``precondition-required``) and with 412 when stale (:func:`require_if_match`)."""


def make_etag(kind: str, key: str, version: int) -> str:
    return f'"{kind}-{key}-v{version}"'


def require_if_match(if_match: str | None, current: str) -> None:
    """Refuse an edit without ``If-Match`` (428) or against a stale version (412)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(f"Send If-Match: {current} (the ETag you last read) to edit this resource.")
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates:
        return
    # If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
    if current not in candidates:
        raise PreconditionFailed(
            f"The resource has changed since you read it (current ETag {current}); read it again and retry.",
            headers={"ETag": current},
        )


NOT_MODIFIED_DOC: dict[str, Any] = {
    "description": "Not modified: the answer is still the one whose ETag the request's If-None-Match names "
    "(no body; the ETag header repeats it)."
}


def list_etag(kind: str, determinants: Iterable[object]) -> str:
    """A weak ETag for a list answer, from everything that determines its bytes (for a page of
    versioned rows: each row's id and version, and the next cursor)."""
    digest = hashlib.sha256(repr(tuple(determinants)).encode()).hexdigest()[:32]
    return f'W/"{kind}-{digest}"'


def none_match(if_none_match: str | None, current: str) -> bool:
    """Whether ``If-None-Match`` names ``current``: the weak comparison (RFC 9110 §13.1.2), ``*`` any."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    bare = current.removeprefix("W/")
    return "*" in tags or any(tag.removeprefix("W/") == bare for tag in tags)


REVALIDATE = "private, no-cache"
"""The ``Cache-Control`` of every conditional read (:func:`conditional`).

``private``: each answer is made for the authenticated client that asked (its scope filters it), so a
shared cache (a proxy, a CDN) must never store it; the client's own cache may. ``no-cache``: the data
can change at any moment (an allocation, a new rate period, a claim), so a kept answer is never reused
without asking first: the client sends its ``ETag`` back as ``If-None-Match`` and reuses it on 304.
No ``max-age``: no answer is fresh for any stated time. (``no-store``, the token endpoint's, would
forbid keeping it at all, and so the cheap revalidation.)"""


def body_etag(
    content: bytes, headers: Iterable[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),)
) -> str:
    """A strong ETag for exact bytes: a digest of the body and of the headers that describe it (its
    media type; a CSV page's ``X-Next-Cursor`` and file name), so JSON and CSV never share a tag. The
    default headers are a JSON answer's: ``body_etag(json_bytes)`` is the tag :func:`conditional`
    gives that answer."""
    digest = hashlib.sha256()
    for name, value in sorted((name.lower(), value) for name, value in headers):
        digest.update(name + b":" + value + b"\n")
    digest.update(b"\n")
    digest.update(content)
    return f'"{digest.hexdigest()[:32]}"'


def response_etag(response: Response) -> str:
    """The strong tag :func:`conditional` gives ``response`` (for a caller that keeps the answer)."""
    return body_etag(bytes(response.body), _representation_headers(response))


def _representation_headers(response: Response) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in response.raw_headers if name.lower() != b"content-length"]


def conditional(
    request: Request,
    response: Response,
    *,
    etag: str | None = None,
    cache_control: str = REVALIDATE,
    vary: Sequence[str] = (),
) -> Response:
    """A read's 200 made conditional: tagged, its caching stated, and 304 when the client has it.

    ``response`` is the whole 200 as it would be sent (its body bytes and headers). Its ``ETag`` is
    ``etag`` when the caller has an exact version token cheaper than the bytes (weak, ``W/"…"``, when it
    names the meaning rather than the bytes); otherwise a strong tag of the bytes and the headers that
    describe them (:func:`body_etag`): it changes whenever the body would, and differs between
    representations. ``Cache-Control`` is :data:`REVALIDATE` (``private, no-cache``) unless stated;
    ``vary`` names the request headers the answer depends on besides the URL (``Accept`` where it
    chooses CSV). The client's credentials are not named: the answer is ``private``, and a tag is
    the bytes' own, so a 304 never hands one client another's answer.

    When ``If-None-Match`` names the tag (weak comparison, RFC 9110 §13.1.2; ``*``; a list), the
    answer is 304 with no body and the same ``ETag``, ``Cache-Control`` and ``Vary`` (§15.4.5);
    otherwise the 200 with them. A stale tag never matches, so it gets the 200 and the new tag.
    For a tag known before the body is built, :func:`not_modified` answers the 304 without building it."""
    tag = etag or body_etag(bytes(response.body), _representation_headers(response))
    stated = _stated(tag, cache_control, vary)
    if none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=stated)
    response.headers.update(stated)
    return response


def not_modified(
    request: Request, etag: str, *, cache_control: str = REVALIDATE, vary: Sequence[str] = ()
) -> Response | None:
    """The 304 for a tag known before the answer is built (an exact version), or None: build it."""
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=_stated(etag, cache_control, vary))
    return None


def _stated(etag: str, cache_control: str, vary: Sequence[str]) -> dict[str, str]:
    stated = {"ETag": etag, "Cache-Control": cache_control}
    if vary:
        stated["Vary"] = ", ".join(vary)
    return stated


def conditional_responses(
    *bases: Mapping[int | str, dict[str, Any]],
    vary: Sequence[str] = (),
    etag_description: str | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a conditional read: ``bases`` (e.g. ``CSV_RESPONSE_DOC``) with the
    ``ETag``, ``Cache-Control`` (and ``Vary``) headers on the 200, and the 304 (:data:`NOT_MODIFIED_DOC`)
    with the same headers. A new dict each call, so a later layer that adds to one operation's
    headers adds to that operation's only."""
    responses: dict[int | str, dict[str, Any]] = {}
    for base in bases:
        responses.update(copy.deepcopy(dict(base)))
    ok = responses.setdefault(200, {})
    ok.setdefault("headers", {}).update(_headers_doc(vary, etag_description))
    responses[304] = {**copy.deepcopy(NOT_MODIFIED_DOC), "headers": _headers_doc(vary, etag_description)}
    return responses


def _headers_doc(vary: Sequence[str], etag_description: str | None) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "ETag": {
            "description": etag_description
            or "The answer's entity tag (strong: a digest of its bytes and media type). Send it back as "
            "`If-None-Match`: while the answer is unchanged it is 304 with no body.",
            "required": True,
            "schema": {"type": "string"},
        },
        "Cache-Control": {
            "description": f"`{REVALIDATE}`: for this client only (no shared cache may keep it); a kept "
            "copy is revalidated with `If-None-Match` before every reuse.",
            "required": True,
            "schema": {"type": "string"},
            "example": REVALIDATE,
        },
    }
    if vary:
        value = ", ".join(vary)
        csv = " (`Accept: text/csv` answers CSV)" if "Accept" in vary else ""
        headers["Vary"] = {
            "description": f"`{value}`: the answer depends on these request headers as well as the URL{csv}.",
            "required": True,
            "schema": {"type": "string"},
            "example": value,
        }
    return headers
