"""The streaming parsers of bulk bodies, without a database: whatever the chunking, the same records
on the same lines; what cannot be read is reported where it is, and the body is always read to its end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from evaluation.workload import parsing
from evaluation.workload.parsing import Format, Malformed, media_format


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


class Counting:
    """Chunks that remember how many were read (a parser must always read them all)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.read += 1
            yield chunk


def flat(batches: Iterator[list[parsing.Item]]) -> list[tuple[int, Any]]:
    return [item for batch in batches for item in batch]


def problems(items: list[tuple[int, Any]]) -> list[tuple[int, str]]:
    return [(line, value.message) for line, value in items if isinstance(value, Malformed)]


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", Format.JSON),
        ("Application/JSON; charset=UTF-8", Format.JSON),
        ("application/x-ndjson", Format.NDJSON),
        ("application/ndjson", Format.NDJSON),
        ('text/csv; charset="utf-8"', Format.CSV),
        ("text/csv; header=present", Format.CSV),
        ("text/csv; charset=latin-1", None),
        ("text/plain", None),
        ("multipart/form-data; boundary=x", None),
        ("", None),
        (None, None),
    ],
)
def test_media_types(content_type: str | None, expected: Format | None) -> None:
    assert media_format(content_type) is expected


ARRAY = b'[\n  {"a": 1, "s": "x\\ny"},\n  {"a": 22},\n\n  {"a": [3, {"b": "]"}]}, 4500, "t", null\n]\n'


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_a_json_array_reads_the_same_whatever_the_chunks(size: int) -> None:
    items = flat(parsing.json_array(chunked(ARRAY, size)))
    assert items == [
        (2, {"a": 1, "s": "x\ny"}),
        (3, {"a": 22}),
        (5, {"a": [3, {"b": "]"}]}),
        (5, 4500),  # a number cut by a chunk boundary is read whole
        (5, "t"),
        (5, None),
    ]


def test_a_json_array_may_be_empty_and_must_be_an_array() -> None:
    assert flat(parsing.json_array([b" [ ] "])) == []
    assert problems(flat(parsing.json_array([b'{"a": 1}']))) == [(1, "the body is not a JSON array of records")]
    assert problems(flat(parsing.json_array([b""]))) == [(1, "the body ends before the array is closed")]
    assert problems(flat(parsing.json_array([b"[1, 2"]))) == [(1, "the body ends before the array is closed")]
    assert problems(flat(parsing.json_array([b"[1]\n\n[2]"]))) == [(3, "there is more after the end of the array")]


def test_json_syntax_errors_stop_at_their_line_and_the_body_is_still_read() -> None:
    body = b'[{"a": 1},\n{"a": 2}\n{"a": 3},\n' + b'{"a": 4},\n' * 1000 + b"]"
    source = Counting(chunked(body, 16))
    items = flat(parsing.json_array(source))
    assert items[:2] == [(1, {"a": 1}), (2, {"a": 2})]
    assert problems(items) == [(3, "expected ',' or ']' after a record")]
    assert source.read == len(source.chunks)
    bad = flat(parsing.json_array([b'[{"a": 1},\n{"a": tru}]']))
    assert problems(bad)[0][0] == 2 and problems(bad)[0][1].startswith("not valid JSON: Expecting value")


def test_a_json_record_longer_than_the_limit_is_refused_without_holding_the_body() -> None:
    body = b'[{"a": "' + b"x" * 5000 + b'"}, {"a": 1}]'
    source = Counting(chunked(body, 100))
    items = flat(parsing.json_array(source, max_record_chars=1000))
    assert problems(items) == [(1, "not valid JSON: Unterminated string starting at")]
    assert source.read == len(source.chunks)


def test_deep_nesting_is_a_bad_record_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert problems(flat(parsing.json_array([b"[" + deep + b"]"])))[0][1] == "not valid JSON: nested too deeply"
    assert problems(flat(parsing.ndjson([deep + b"\n"]))) == [(1, "not valid JSON: depth limit exceeded (column 1026)")]


NDJSON = b'{"a": 1}\r\n\n  {"a": 2}  \n{"a": \n[1,2]\n{"a": "\xc3\xa9"}'


@pytest.mark.parametrize("size", [1, 3, 8, 1000])
def test_ndjson_lines_whatever_the_chunks(size: int) -> None:
    items = flat(parsing.ndjson(chunked(NDJSON, size)))
    assert [(line, value) for line, value in items if not isinstance(value, Malformed)] == [
        (1, {"a": 1}),
        (3, {"a": 2}),  # spaces around a line are allowed, blank lines skipped
        (5, [1, 2]),  # any JSON value is parsed; records.py refuses what is not an object
        (6, {"a": "é"}),  # the last line needs no newline
    ]
    assert problems(items) == [(4, "not valid JSON: unexpected end of data (column 7)")]


def test_ndjson_reads_on_after_a_bad_line_but_not_after_a_line_too_long() -> None:
    body = b'{"a": 1}\n' + b"x" * 3000 + b'\n{"a": 3}\n'
    source = Counting(chunked(body, 64))
    items = flat(parsing.ndjson(source, max_record_chars=1000))
    assert items[0] == (1, {"a": 1})
    assert problems(items) == [(2, "line 2 is longer than 1,000 characters")]
    assert len(items) == 2 and source.read == len(source.chunks)


def test_bytes_that_are_not_utf8() -> None:
    # In an NDJSON line they are not JSON; in JSON arrays and CSV they read as U+FFFD, which fails
    # the check of the field they are in (records.py) or passes unnoticed in a column not read.
    assert problems(flat(parsing.ndjson([b'{"a": 1}\n{"a": "\xff\xfe"}\n'])))[0][0] == 2
    assert flat(parsing.json_array([b'[{"a": "\xff\xfe"}]'])) == [(1, {"a": "\ufffd\ufffd"})]
    assert flat(parsing.csv_rows([b"a,b\n\xff,1\n"]))[1] == (2, ["\ufffd", "1"])


def test_a_byte_order_mark_cut_by_a_chunk_is_still_skipped() -> None:
    body = b'\xef\xbb\xbf{"a": 1}\n{"a": 2}'
    for size in (1, 2, 3, 4):
        assert flat(parsing.ndjson(chunked(body, size))) == [(1, {"a": 1}), (2, {"a": 2})]
    assert flat(parsing.ndjson([b"\xef"])) == []


CSV = (
    "\ufeffpractice_code,name,appointments\r\n"
    "A81001,Plain,1\r\n"
    "\r\n"
    'A81002,"Quoted, with comma",2\r\n'
    'A81003,"Two\nlines",3\r\n'
    "A81004,Last,4"
).encode()


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_csv_rows_keep_their_line_whatever_the_chunks(size: int) -> None:
    items = flat(parsing.csv_rows(chunked(CSV, size)))
    assert items == [
        (1, ["practice_code", "name", "appointments"]),  # the byte-order mark is dropped
        (2, ["A81001", "Plain", "1"]),
        (4, ["A81002", "Quoted, with comma", "2"]),
        (5, ["A81003", "Two\nlines", "3"]),
        (7, ["A81004", "Last", "4"]),
    ]


def test_broken_csv_is_reported_at_its_line_and_the_body_read() -> None:
    body = b'a,b\n1,2\n3,"4"x\n' + b"5,6\n" * 100
    source = Counting(chunked(body, 7))
    items = flat(parsing.csv_rows(source))
    assert items[:2] == [(1, ["a", "b"]), (2, ["1", "2"])]
    assert problems(items) == [(3, "not valid CSV: ',' expected after '\"'")]
    assert source.read == len(source.chunks)


def test_large_batches_are_yielded_as_they_fill() -> None:
    body = "".join(json.dumps({"n": n}) + "\n" for n in range(5000)).encode()
    batches = list(parsing.ndjson(chunked(body, 4096)))
    assert [len(batch) for batch in batches] == [2000, 2000, 1000]
    assert batches[2][-1] == (5000, {"n": 4999})
