"""Crafted cursors (security probe, issue 9) on every list of the budget service, on SQLite and
PostgreSQL: a cursor is opaque, but it is the client's input, so a position that is not what the
list issued (an integer past signed 64 bits, a string where the list keeps an id, an id where it
keeps a code) is 422 ``invalid-cursor``, never a 500 from the database driver."""

from __future__ import annotations

import httpx
import pytest

from arrs_kit.pagination import encode_cursor
from arrs_kit.testing import assert_problem

pytestmark = pytest.mark.usefixtures("register")

ID_LISTS = ("/v1/posts", "/v1/claims", "/v1/pcns/U00001/ledger")
CODE_LISTS = ("/v1/icbs", "/v1/pcns", "/v1/funding-rates")
TOO_BIG = [2**63]  # one past the largest signed 64-bit integer
TOO_SMALL = [-(2**63) - 1]
ID_MAX = 2**31 - 1  # ids are Integer columns, 32 bits on PostgreSQL


@pytest.mark.parametrize("path", ID_LISTS)
@pytest.mark.parametrize(
    "key", [TOO_BIG, TOO_SMALL, [2**63 - 1], [ID_MAX + 1], [0], ["x"], [1.5], [True], [1, 2]], ids=repr
)
async def test_an_id_list_refuses_a_cursor_it_did_not_issue(
    admin: httpx.AsyncClient, path: str, key: list[object]
) -> None:
    response = await admin.get(path, params={"cursor": encode_cursor(key)})
    body = assert_problem(response, 422, "invalid-cursor")
    assert "start again without one" in body["detail"]


@pytest.mark.parametrize("path", CODE_LISTS)
@pytest.mark.parametrize("key", [TOO_BIG, [7], ["a\u0000"], ["a", "b"]], ids=repr)
async def test_a_code_list_refuses_a_cursor_it_did_not_issue(
    admin: httpx.AsyncClient, path: str, key: list[object]
) -> None:
    assert_problem(await admin.get(path, params={"cursor": encode_cursor(key)}), 422, "invalid-cursor")


@pytest.mark.parametrize("path", ID_LISTS)
async def test_the_largest_id_is_a_valid_cursor_and_ends_the_list(admin: httpx.AsyncClient, path: str) -> None:
    response = await admin.get(path, params={"cursor": encode_cursor([ID_MAX])})
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [], "next_cursor": None}
