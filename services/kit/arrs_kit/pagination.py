"""Cursor pagination and CSV output for every list endpoint.

A list answers ``{"data": [...], "next_cursor": "…"|null}``. The cursor is an opaque, URL-safe token
holding the sort key of the last row served, so pages stay stable while rows are added. Any list
can be asked for as flat CSV (``?format=csv`` or ``Accept: text/csv``); the next cursor then travels
in the ``X-Next-Cursor`` header.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar, overload

import orjson
from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from arrs_kit.problems import ProblemError

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).")
]
CursorQuery = Annotated[
    str | None,
    Query(max_length=512, description="The `next_cursor` of the previous page; omit for the first page."),
]
ResponseFormat = TypeAliasType(
    "ResponseFormat",
    Annotated[Literal["json", "csv"], Field(description="How a list is answered: a JSON page, or flat CSV.")],
)
FormatQuery = Annotated[
    ResponseFormat | None,
    Query(description="`csv` answers the page as flat CSV; without it, `Accept: text/csv` does the same."),
]


class Page(BaseModel, Generic[T]):
    """A page of a list; subclass it per item type so the OpenAPI schema has a readable name."""

    data: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to read the next page; null on the last page.")


class InvalidCursor(ProblemError):
    status, code, title = 422, "invalid-cursor", "The cursor is not one this list issued"


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The integers a cursor may hold: what a signed 64-bit column (SQLite's, PostgreSQL's bigint) holds."""

A = TypeVar("A", int, str)
B = TypeVar("B", int, str)


@overload
def decode_cursor(cursor: str | None, arity: int, /) -> list[int | str] | None: ...


@overload
def decode_cursor(cursor: str | None, first: type[A], /) -> tuple[A] | None: ...


@overload
def decode_cursor(cursor: str | None, first: type[A], second: type[B], /) -> tuple[A, B] | None: ...


def decode_cursor(cursor: str | None, *kinds: object) -> Sequence[int | str] | None:
    """The sort key a cursor holds, each position checked against the type the list keeps there
    (``decode_cursor(cursor, int)``, ``decode_cursor(cursor, str, str)``); 422 ``invalid-cursor`` for
    anything else. The cursor is the client's input: an integer is refused outside signed 64 bits
    (a driver would raise on it), a string with control characters, a bool or a float always.

    ``decode_cursor(cursor, n)`` (a number of positions) admits either type in each; prefer the types.
    """
    if cursor is None:
        return None
    arity = kinds[0] if len(kinds) == 1 and isinstance(kinds[0], int) else None
    expected: tuple[type[int] | type[str] | None, ...] = (
        (None,) * arity if arity is not None else tuple(k for k in kinds if k is int or k is str)
    )
    if arity is None and len(expected) != len(kinds):
        raise TypeError("decode_cursor takes int or str for each position")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor could not be read; start again without one.") from exc
    if not isinstance(key, list) or len(key) != len(expected) or not all(map(_fits, key, expected)):
        raise InvalidCursor("The cursor does not belong to this list; start again without one.")
    return key if arity is not None else tuple(key)


def _fits(value: object, kind: type[int] | type[str] | None) -> bool:
    if isinstance(value, bool):  # JSON true is no id
        return False
    if isinstance(value, int):
        return kind in (None, int) and INT64_MIN <= value <= INT64_MAX
    if isinstance(value, str):
        return kind in (None, str) and not _CONTROL.search(value)
    return False


def next_cursor_for(rows: Sequence[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Given up to ``limit + 1`` rows, answer the page rows and the cursor of the next page."""
    if len(rows) > limit:
        page = list(rows[:limit])
        return page, encode_cursor(key(page[-1]))
    return list(rows), None


def wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt == "csv":
        return True
    if fmt == "json":
        return False
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}_{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list):
        out[prefix] = ";".join(_cell(v) for v in value)
    else:
        out[prefix] = _cell(value)


def _cell(value: Any) -> str:
    text = _plain(value)
    # A cell a spreadsheet would run as a formula is quoted (OWASP CSV injection advice).
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str)
    return str(value)


def csv_response(items: Iterable[BaseModel | Mapping[str, Any]], *, next_cursor: str | None, filename: str) -> Response:
    rows: list[dict[str, Any]] = []
    columns: list[str] = []
    for item in items:
        data = item.model_dump(mode="json") if isinstance(item, BaseModel) else dict(item)
        flat: dict[str, Any] = {}
        _flatten("", data, flat)
        for column in flat:
            if column not in columns:
                columns.append(column)
        rows.append(flat)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    headers = {"Content-Disposition": f'inline; filename="{filename}.csv"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


P = TypeVar("P", bound=Page[Any])


def page_or_csv(request: Request, fmt: str | None, page: P, *, filename: str) -> Response:
    """The page as JSON, or as flat CSV when the client asked for it (``?format=csv`` or Accept).

    The JSON is the page model's own serialisation, answered as it is: FastAPI would otherwise check
    the returned model against the route's ``response_model`` again (for a sync route, in a second hop
    to the thread pool) and serialise it then. So pass the very class the route declares as its
    ``response_model``: that is what the OpenAPI document promises, and pydantic serialises each field
    as its declared type (a subclass's extra fields never leak)."""
    if wants_csv(request, fmt):
        return csv_response(page.data, next_cursor=page.next_cursor, filename=filename)
    return Response(page.model_dump_json(by_alias=True), media_type="application/json")


def rows_or_csv(
    request: Request, fmt: str | None, rows: list[dict[str, Any]], *, next_cursor: str | None, filename: str
) -> Response:
    """A page of plain rows (``{"data": rows, "next_cursor": ...}``), as JSON or as flat CSV when asked.

    For a hot list read straight from the database: no model per row, the JSON made by orjson (a page
    of 37 PCN budgets: 0.1 ms against 0.44 ms through the page model). The rows must already have the
    shape of the route's ``response_model`` (its field names, in its order, JSON types only); the route's
    tests compare the two."""
    if wants_csv(request, fmt):
        return csv_response(rows, next_cursor=next_cursor, filename=filename)
    return Response(orjson.dumps({"data": rows, "next_cursor": next_cursor}), media_type="application/json")


CSV_RESPONSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The page as JSON, or as flat CSV when asked for.",
    }
}
