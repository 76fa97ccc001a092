"""ETags: If-Match for resources that can be edited (optimistic concurrency), and weak ETags with
If-None-Match for lists a client polls (conditional reads)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Header

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
