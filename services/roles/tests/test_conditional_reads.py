"""Conditional reads of the catalogue, on SQLite and PostgreSQL: every GET answers an ETag of its bytes
and ``Cache-Control: private, no-cache``; the tag sent back as ``If-None-Match`` is 304 with no body
while nothing changed, and 200 with a new tag once something did; JSON and CSV never share a tag."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from arrs_kit.etag import REVALIDATE

PERIOD = {
    "geography": "national",
    "effective_from": "2026-04-01",
    "annual_max_pence": 6_900_000,
    "provenance": "published",
    "source": "Network Contract DES 2026/27, Table 2",
}
ON_NEW_RATES: dict[str, Any] = {"on": "2026-04-01", "geography": "national", "limit": 500}
READS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/roles", {"limit": 500}),
    ("/v1/roles/clinical_pharmacist", {}),
    ("/v1/roles/clinical_pharmacist/job-plan-template", {}),
    ("/v1/rates", ON_NEW_RATES),
    ("/v1/rates/gaps", {"fy": "2024-25", "limit": 500}),
]
LISTS = {"/v1/roles", "/v1/rates", "/v1/rates/gaps"}


async def tagged(client: httpx.AsyncClient, path: str, params: dict[str, Any], **headers: str) -> str:
    """GET ``path``: a 200 with its ETag and caching stated; answers the tag."""
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == REVALIDATE == "private, no-cache"
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong: the tag of these bytes
    return etag


async def assert_not_modified(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], etag: str, *, sent: str | None = None
) -> None:
    """``If-None-Match: sent`` (default ``etag``) is 304, no body, with ``etag`` and the caching stated."""
    response = await client.get(path, params=params, headers={"If-None-Match": sent or etag})
    assert response.status_code == 304, (path, response.status_code, response.text)
    assert response.content == b""
    assert response.headers["etag"] == etag and response.headers["cache-control"] == REVALIDATE
    assert "content-type" not in response.headers and response.headers.get("content-length", "0") == "0"
    if path in LISTS:
        assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize(("path", "params"), READS, ids=[p for p, _ in READS])
async def test_an_unchanged_read_is_304_without_a_body(
    pcn: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> None:
    etag = await tagged(pcn, path, params)
    await assert_not_modified(pcn, path, params, etag)
    # The weak comparison, a list, and "*" match; a stale or unknown tag is the full answer again.
    await assert_not_modified(pcn, path, params, etag, sent=f"W/{etag}")
    await assert_not_modified(pcn, path, params, etag, sent=f'"stale", {etag}')
    await assert_not_modified(pcn, path, params, etag, sent="*")
    again = await pcn.get(path, params=params, headers={"If-None-Match": '"stale"'})
    assert again.status_code == 200 and again.headers["etag"] == etag and again.content
    # The tag is the bytes': reading again gives the same one.
    assert await tagged(pcn, path, params) == etag


async def test_a_new_rate_period_moves_the_tags_of_what_it_shows(
    admin: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    role, rates = "/v1/roles/clinical_pharmacist", "/v1/rates"
    unrelated = "/v1/roles/care_coordinator"
    before = {path: await tagged(pcn, path, params) for path, params in READS}
    role_before = await tagged(admin, role, {})
    assert role_before == before[role]  # the same bytes for every reader: the same tag
    other_before = await tagged(pcn, unrelated, {})
    added = await admin.post(f"{role}/rates", json=PERIOD)
    assert added.status_code == 201, added.text
    changed: list[tuple[str, dict[str, Any]]] = [(role, {}), (rates, ON_NEW_RATES)]
    for path, params in changed:
        stale = await pcn.get(path, params=params, headers={"If-None-Match": before[path]})
        assert stale.status_code == 200, path
        assert stale.headers["etag"] != before[path] and stale.content
        await assert_not_modified(pcn, path, params, stale.headers["etag"])
    assert any(r["annual_max_pence"] == 6_900_000 for r in (await pcn.get(rates, params=ON_NEW_RATES)).json()["data"])
    # What the period does not show in is still 304 with its old tag.
    await assert_not_modified(pcn, unrelated, {}, other_before)
    await assert_not_modified(pcn, "/v1/roles", {"limit": 500}, before["/v1/roles"])
    # The role's tag is the one an edit needs: the tag read before the period is stale for If-Match too.
    stale_edit = await admin.patch(role, json={"description": "Edited."}, headers={"If-Match": role_before})
    assert stale_edit.status_code == 412, stale_edit.text
    current = await tagged(admin, role, {})
    edited = await admin.patch(role, json={"description": "Edited."}, headers={"If-Match": current})
    assert edited.status_code == 200, edited.text
    # The edit's answer is the role as a read now gives it, byte for byte, under the same tag.
    assert edited.headers["etag"] != current
    await assert_not_modified(pcn, role, {}, edited.headers["etag"])
    assert (await pcn.get(role)).content == edited.content


async def test_a_new_role_answers_the_tag_its_read_gives(admin: httpx.AsyncClient) -> None:
    new = {
        "code": "test_role",
        "name": "Test role",
        "staff_group": "clinical",
        "added_on": "2026-04-01",
        "description": "A role for the test.",
    }
    created = await admin.post("/v1/roles", json=new)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/roles/test_role"
    await assert_not_modified(admin, "/v1/roles/test_role", {}, created.headers["etag"])
    assert (await admin.get("/v1/roles/test_role")).content == created.content


async def test_a_gap_filled_and_a_template_replaced_move_their_tags(admin: httpx.AsyncClient) -> None:
    gaps: dict[str, Any] = {"fy": "2024-25", "limit": 500}
    gaps_before = await tagged(admin, "/v1/rates/gaps", gaps)
    period = {**PERIOD, "afc_band": "7", "effective_from": "2024-10-01", "provenance": "estimated"}
    assert (await admin.post("/v1/roles/advanced_practitioner/rates", json=period)).status_code == 201
    after = await admin.get("/v1/rates/gaps", params=gaps, headers={"If-None-Match": gaps_before})
    assert after.status_code == 200 and after.headers["etag"] != gaps_before
    template_path = "/v1/roles/clinical_pharmacist/job-plan-template"
    template_before = await tagged(admin, template_path, {})
    template = (await admin.get(template_path)).json()
    body = {k: template[k] for k in ("purpose", "responsibilities", "sessions_per_week_hint", "suggested_kpis")}
    put = await admin.put(template_path, json={**body, "purpose": "A new purpose."})
    assert put.status_code == 200, put.text
    replaced = await admin.get(template_path, headers={"If-None-Match": template_before})
    assert replaced.status_code == 200 and replaced.headers["etag"] != template_before


@pytest.mark.parametrize("path", ["/v1/roles", "/v1/rates", "/v1/rates/gaps"])
async def test_csv_and_json_never_share_a_tag(pcn: httpx.AsyncClient, path: str) -> None:
    params: dict[str, Any] = {"fy": "2024-25"} if path.endswith("gaps") else {}
    as_json = await tagged(pcn, path, params)
    as_csv = await tagged(pcn, path, {**params, "format": "csv"})
    by_accept = await tagged(pcn, path, params, Accept="text/csv")
    assert as_json != as_csv and as_csv == by_accept  # the same CSV bytes however it was asked for
    # The JSON's tag does not stand for the CSV (nor the other way round): the full answer, in its format.
    csv_answer = await pcn.get(path, params={**params, "format": "csv"}, headers={"If-None-Match": as_json})
    assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    json_answer = await pcn.get(path, params=params, headers={"If-None-Match": as_csv})
    assert json_answer.status_code == 200 and json_answer.headers["content-type"] == "application/json"
    assert json_answer.headers["vary"] == csv_answer.headers["vary"] == "Accept"
    await assert_not_modified(pcn, path, {**params, "format": "csv"}, as_csv)


async def test_a_page_and_the_next_have_their_own_tags(pcn: httpx.AsyncClient) -> None:
    first = await pcn.get("/v1/roles", params={"limit": 2})
    second = await pcn.get("/v1/roles", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert first.headers["etag"] != second.headers["etag"]
    # A CSV page's next cursor travels in a header: it is part of what the tag covers.
    one = await pcn.get("/v1/roles", params={"limit": 2, "format": "csv"})
    everything = await pcn.get("/v1/roles", params={"limit": 500, "format": "csv"})
    assert one.headers["x-next-cursor"] and one.headers["etag"] != everything.headers["etag"]


async def test_errors_are_not_conditional(pcn: httpx.AsyncClient) -> None:
    missing = await pcn.get("/v1/roles/astronaut", headers={"If-None-Match": "*"})
    assert missing.status_code == 404 and "etag" not in missing.headers
