"""Bulk bodies parsed as they stream, with no I/O of their own: bytes in, ``(line, value)`` out.

Every parser takes an iterator of byte chunks and yields batches of ``(line, value)``: a JSON value
(JSON array, NDJSON) or a list of cells (CSV), ``line`` being the 1-based line of the body where the
record starts. A part that cannot be read is yielded as :class:`Malformed` in the value's place.
Memory is bounded by the longest record (``max_record_chars``), never by the body: a 200 MB upload
is never in memory at once. A parser always consumes the whole iterator, even after a fatal error,
because the gateway's signature over the body is checked only as its last chunk arrives.

Text is UTF-8 (a byte-order mark is skipped). In CSV and JSON arrays bytes that are not UTF-8 read as
U+FFFD, so they fail the check of whatever field they are in (or pass unnoticed in a column that is
not read); an NDJSON line that is not UTF-8 is not valid JSON.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

MAX_RECORD_CHARS = 1_048_576
BATCH_ROWS = 2_000


class Format(StrEnum):
    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"


MEDIA_TYPES = {
    "application/json": Format.JSON,
    "application/x-ndjson": Format.NDJSON,
    "application/ndjson": Format.NDJSON,
    "text/csv": Format.CSV,
}


def media_format(content_type: str | None) -> Format | None:
    """The format a ``Content-Type`` names (its charset, if given, must be UTF-8), else None."""
    if not content_type:
        return None
    media, *params = (part.strip() for part in content_type.split(";"))
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return None
    return MEDIA_TYPES.get(media.lower())


@dataclass(frozen=True, slots=True)
class Malformed:
    """A part of the body that is not a record at all, in the place of one."""

    message: str


Item = tuple[int, Any]


def decoded(chunks: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text of the chunks, without a leading byte-order mark."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    first = True
    for chunk in chunks:
        text = decoder.decode(chunk)
        if first and text:
            text = text.removeprefix("\ufeff")
            first = False
        if text:
            yield text
    if tail := decoder.decode(b"", final=True):
        yield tail


class _TooLong(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _lines(texts: Iterator[str], max_chars: int, *, ends: bool = False) -> Iterator[str]:
    """Each line (a trailing ``\\r`` kept; with ``ends``, its ``\\n`` too) of the text, the last one
    even without a newline."""
    pending = ""
    count = 0
    for text in texts:
        parts = (pending + text).split("\n") if pending else text.split("\n")
        pending = parts.pop()
        if len(pending) > max_chars:
            raise _TooLong(count + len(parts) + 1)
        count += len(parts)
        if ends:
            for part in parts:
                yield part + "\n"
        else:
            yield from parts
    if pending:
        yield pending


def _too_long(line: int, max_chars: int) -> Malformed:
    return Malformed(f"line {line} is longer than {max_chars:,} characters")


def drain(chunks: Iterator[bytes]) -> None:
    for _ in chunks:
        pass


_BOM = b"\xef\xbb\xbf"


def _byte_lines(chunks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    """Each line of the body as bytes (no decoding: NDJSON's parser checks UTF-8 itself), without a
    leading byte-order mark; the last one even without a newline."""
    pending = b""
    count = 0
    started = False
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        if not started:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                pending = data  # perhaps a mark cut short: wait for more
                continue
            data, started = data.removeprefix(_BOM), True
        parts = data.split(b"\n")
        pending = parts.pop()
        if len(pending) > max_bytes:
            raise _TooLong(count + len(parts) + 1)
        count += len(parts)
        yield from parts
    if pending.strip(_BOM if not started else b""):
        yield pending


def ndjson(chunks: Iterable[bytes], *, max_record_chars: int = MAX_RECORD_CHARS) -> Iterator[list[Item]]:
    """One JSON value per line, in UTF-8; blank lines are skipped. Parsed by orjson, three times as
    fast as the standard library here (bench/RESULTS.md): NDJSON is the format for large uploads."""
    source = iter(chunks)
    loads = orjson.loads
    items: list[Item] = []
    line = 0
    try:
        for raw in _byte_lines(source, max_record_chars):
            line += 1
            try:
                items.append((line, loads(raw)))
            except orjson.JSONDecodeError as exc:
                if raw.strip():
                    items.append((line, Malformed(f"not valid JSON: {_reason(exc)}")))
            if len(items) >= BATCH_ROWS:
                yield items
                items = []
    except _TooLong as exc:
        items.append((exc.line, _too_long(exc.line, max_record_chars)))
        drain(source)
    if items:
        yield items


def _reason(exc: Exception, *, column: bool = True) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (column {exc.colno})" if column else exc.msg
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def csv_rows(chunks: Iterable[bytes], *, max_record_chars: int = MAX_RECORD_CHARS) -> Iterator[list[Item]]:
    """Rows of cells, the header row first; empty lines are skipped. A quoted cell may span lines:
    its record is numbered by the line it starts on."""
    source = iter(chunks)
    items: list[Item] = []
    reader = csv.reader(_lines(decoded(source), max_record_chars, ends=True), strict=True)
    last = 0
    try:
        for row in reader:
            if row:
                items.append((last + 1, row))
                if len(items) >= BATCH_ROWS:
                    yield items
                    items = []
            last = reader.line_num
    except _TooLong as exc:
        items.append((exc.line, _too_long(exc.line, max_record_chars)))
        drain(source)
    except csv.Error as exc:
        items.append((last + 1, Malformed(f"not valid CSV: {exc}")))
        drain(source)
    if items:
        yield items


_SPACE = re.compile(r"[ \t\n\r]*")


def _space_end(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return pos if match is None else match.end()  # the pattern matches the empty string: never None


def json_array(chunks: Iterable[bytes], *, max_record_chars: int = MAX_RECORD_CHARS) -> Iterator[list[Item]]:
    """The elements of one top-level JSON array, each parsed as soon as it has arrived."""
    source = iter(chunks)
    texts = decoded(source)
    scan = json.JSONDecoder().raw_decode
    buf, pos, line = "", 0, 1
    expect = "["  # then "value" (or "]" for an empty array), "," (or "]"), "end"
    eof = False
    while True:
        items: list[Item] = []
        fatal: str | None = None
        while fatal is None:
            end = _space_end(buf, pos)
            line += buf.count("\n", pos, end)
            pos = end
            if pos == len(buf):
                break
            char = buf[pos]
            if expect == "[":
                if char != "[":
                    fatal = "the body is not a JSON array of records"
                expect, pos = "first", pos + 1
            elif expect == "end":
                fatal = "there is more after the end of the array"
            elif char == "]" and expect in ("first", ","):
                expect, pos = "end", pos + 1
            elif expect == ",":
                if char != ",":
                    fatal = "expected ',' or ']' after a record"
                expect, pos = "value", pos + 1
            else:
                try:
                    value, stop = scan(buf, pos)
                except (ValueError, RecursionError) as exc:
                    if not eof and len(buf) - pos <= max_record_chars:
                        break  # perhaps only cut short by the chunk: read on
                    fatal = f"not valid JSON: {_reason(exc, column=False)}"  # columns count from the buffer
                    continue
                if stop == len(buf) and not eof:
                    break  # a number may go on in the next chunk
                items.append((line, value))
                line += buf.count("\n", pos, stop)
                expect, pos = ",", stop
        if fatal is not None:
            items.append((line, Malformed(fatal)))
            drain(source)
            yield items
            return
        if items:
            yield items
        if eof:
            if expect != "end":
                yield [(line, Malformed("the body ends before the array is closed"))]
            return
        text = next(texts, None)
        if text is None:
            eof = True
        else:
            buf, pos = buf[pos:] + text, 0
