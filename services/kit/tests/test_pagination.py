"""Cursors are the client's input (security probe, issue 9): each position has the type its list
keeps there, and an integer fits a signed 64-bit column, or the cursor is 422 ``invalid-cursor``."""

from __future__ import annotations

from typing import Any

import pytest

from arrs_kit.pagination import InvalidCursor, decode_cursor, encode_cursor


def test_a_cursor_answers_its_typed_positions() -> None:
    assert decode_cursor(encode_cursor([7]), int) == (7,)
    assert decode_cursor(encode_cursor(["a", "b"]), str, str) == ("a", "b")
    assert decode_cursor(encode_cursor([2**63 - 1]), int) == (2**63 - 1,)
    assert decode_cursor(encode_cursor([-(2**63)]), int) == (-(2**63),)
    assert decode_cursor(None, int) is None


REFUSED: list[tuple[list[Any], tuple[Any, ...]]] = [
    ([2**63], (int,)),  # one past a signed 64-bit integer: a driver raises on it
    ([-(2**63) - 1], (int,)),
    (["x"], (int,)),  # a string where the list keeps an id
    ([7], (str,)),
    ([True], (int,)),
    ([1.5], (int,)),
    ([None], (int,)),
    (["a\u0000"], (str,)),
    (["a", 1], (str, str)),
    (["a"], (str, str)),
    ([], (int,)),
]


@pytest.mark.parametrize(("key", "kinds"), REFUSED, ids=repr)
def test_a_cursor_the_list_did_not_issue_is_refused(key: list[Any], kinds: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(key), *kinds)


def test_the_untyped_form_refuses_integers_past_64_bits_too() -> None:
    assert decode_cursor(encode_cursor(["cl_1"]), 1) == ["cl_1"]
    assert decode_cursor(encode_cursor([5]), 1) == [5]
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor([2**63]), 1)
