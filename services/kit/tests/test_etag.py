"""The conditional-read helper (``arrs_kit.etag.conditional``) without an app: tags, 304s, stated caching."""

from __future__ import annotations

from fastapi import Request, Response

from arrs_kit.etag import (
    NOT_MODIFIED_DOC,
    REVALIDATE,
    body_etag,
    conditional,
    conditional_responses,
    none_match,
    not_modified,
)
from arrs_kit.pagination import CSV_RESPONSE_DOC


def request(if_none_match: str | None = None) -> Request:
    headers = [(b"if-none-match", if_none_match.encode())] if if_none_match is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def answer(body: bytes = b'{"a":1}', media_type: str = "application/json", **headers: str) -> Response:
    return Response(body, media_type=media_type, headers=headers)


def test_a_200_is_tagged_by_its_bytes_and_states_its_caching() -> None:
    response = conditional(request(), answer())
    assert response.status_code == 200 and response.body == b'{"a":1}'
    assert response.headers["etag"] == body_etag(b'{"a":1}')  # a JSON answer's tag, computed ahead
    assert response.headers["cache-control"] == REVALIDATE == "private, no-cache"
    assert "vary" not in response.headers
    assert conditional(request(), answer(b'{"a":2}')).headers["etag"] != response.headers["etag"]
    assert response.headers["etag"].startswith('"')  # strong


def test_the_tag_covers_what_describes_the_bytes() -> None:
    json_tag = conditional(request(), answer(b"a,b\r\n")).headers["etag"]
    csv_tag = conditional(request(), answer(b"a,b\r\n", "text/csv; charset=utf-8")).headers["etag"]
    with_cursor = conditional(request(), answer(b"a,b\r\n", "text/csv; charset=utf-8", **{"X-Next-Cursor": "x"}))
    assert len({json_tag, csv_tag, with_cursor.headers["etag"]}) == 3


def test_a_matching_if_none_match_is_304_with_no_body() -> None:
    tag = conditional(request(), answer()).headers["etag"]
    for sent in (tag, f"W/{tag}", f'"other", {tag}', f'"other",{tag}', "*"):
        response = conditional(request(sent), answer(), vary=["Accept"])
        assert response.status_code == 304, sent
        assert response.body == b""
        assert response.headers["etag"] == tag and response.headers["cache-control"] == REVALIDATE
        assert response.headers["vary"] == "Accept"
        assert "content-type" not in response.headers and "content-length" not in response.headers


def test_a_stale_tag_is_the_full_answer() -> None:
    old = conditional(request(), answer(b'{"a":1}')).headers["etag"]
    for sent in (old, '"other"', "", f'W/{old[:-2]}"'):
        response = conditional(request(sent), answer(b'{"a":2}'))
        assert response.status_code == 200 and response.body == b'{"a":2}', sent
        assert response.headers["etag"] != old


def test_a_cheaper_version_tag_is_used_as_given() -> None:
    response = conditional(request(), answer(), etag='W/"posts-7"')
    assert response.headers["etag"] == 'W/"posts-7"'
    assert conditional(request('W/"posts-7"'), answer(), etag='W/"posts-7"').status_code == 304
    assert not_modified(request('"posts-7"'), 'W/"posts-7"') is not None  # the weak comparison
    assert not_modified(request('"posts-6"'), 'W/"posts-7"') is None
    assert not_modified(request(), 'W/"posts-7"') is None


def test_none_match() -> None:
    assert none_match('W/"x", "y"', '"y"') and none_match("*", '"y"')
    assert not none_match(None, '"y"') and not none_match('"yy"', '"y"')


def test_the_documented_responses() -> None:
    responses = conditional_responses(CSV_RESPONSE_DOC, vary=["Accept"])
    ok = responses[200]
    assert ok["content"] == CSV_RESPONSE_DOC[200]["content"]  # the base kept
    assert set(ok["headers"]) == {"ETag", "Cache-Control", "Vary"}
    assert responses[304]["description"] == NOT_MODIFIED_DOC["description"]
    assert set(responses[304]["headers"]) == {"ETag", "Cache-Control", "Vary"}
    assert "headers" not in CSV_RESPONSE_DOC[200]  # the base is not changed
    # Each call is its own: a later layer adding to one operation's headers adds to that one only.
    other = conditional_responses()
    other[200]["headers"]["X-Request-ID"] = {"schema": {"type": "string"}}
    assert "X-Request-ID" not in conditional_responses()[200]["headers"]
    assert set(other[304]["headers"]) == {"ETag", "Cache-Control"}
