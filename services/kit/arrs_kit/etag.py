"""ETags and If-Match for resources that can be edited (optimistic concurrency)."""

from __future__ import annotations

from arrs_kit.problems import PreconditionFailed, PreconditionRequired


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
