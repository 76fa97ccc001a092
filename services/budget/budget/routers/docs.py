"""Texts and response documentation several route modules share, so the contract says a thing one way."""

from __future__ import annotations

from typing import Any


def csv_doc(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": f"JSON, or {what} as CSV."}}


OUTAGE = (
    " 503 `roles-unavailable` when the role catalogue cannot be read: nothing is computed with a guessed rate"
    " (at once, with `Retry-After` and a `reason`, while too many calls wait for it or after repeated failures)."
)
