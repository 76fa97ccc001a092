"""Dated post terms (domain §6): a change is a new set from a day, never an edit; a claim month that
spans a change is computed in segments whose caps are added before the single rounding."""

from __future__ import annotations

from fractions import Fraction

import httpx
import pytest

from arrs_kit.testing import assert_problem
from budget.domain.claims_math import round_half_up

from .factories import act, draft, new_post, top_up

pytestmark = pytest.mark.usefixtures("register", "ledger_verified")

CP_OCT = 6_583_800  # clinical pharmacist, national, in force on 1 October 2024


async def terms(client: httpx.AsyncClient, post_id: int, **body: object) -> httpx.Response:
    return await client.post(f"/v1/posts/{post_id}/terms", json=body)


async def test_a_month_split_by_an_hours_change_is_computed_in_segments(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 2_000_000)
    post_id = await new_post(pcn, hours_per_week="37.5", start_date="2024-04-01")
    september = await draft(pcn, post_id, "2024-09")
    added = await terms(pcn, post_id, effective_from="2024-10-16", hours_per_week="22.5", reason="reduced hours")
    assert added.status_code == 201, added.text
    assert added.headers["location"] == f"/v1/posts/{post_id}"
    post = added.json()
    assert post["hours_per_week"] == "22.50"  # the post shows its latest terms
    assert [(t["effective_from"], t["effective_to"], t["hours_per_week"]) for t in post["terms"]] == [
        ("2024-04-01", "2024-10-15", "37.50"),
        ("2024-10-16", None, "22.50"),
    ]

    # October: 1 to 15 at 1 WTE, 16 to 31 at 22.5 ÷ 37.5 = 0.6 WTE, both at 6,583,800 a year:
    #   6,583,800 × 1.0 × 15/31 ÷ 12 = 265,475.81
    # + 6,583,800 × 0.6 × 16/31 ÷ 12 = 169,904.52
    # = 6,583,800 × 24.6/31 ÷ 12 = 435,380.32 → 435,380, rounded once (the rounded parts add to 435,381).
    exact = Fraction(CP_OCT) * Fraction(246, 10) / 31 / 12
    assert round_half_up(exact) == 435_380
    october = await draft(pcn, post_id, "2024-10")
    assert october["cap_pence"] == 435_380 and october["reimbursable_pence"] == 435_380  # paid 567,000
    assert october["days_in_post"] == 31 and october["hours_per_week"] == "37.50"  # the most of the month
    assert october["wte"] == "0.793548"  # 24.6 ÷ 31, days-weighted, for display
    assert [
        (s["first_day"], s["last_day"], s["days"], s["hours_per_week"], s["wte"], s["cap_pence"])
        for s in october["segments"]
    ] == [
        ("2024-10-01", "2024-10-15", 15, "37.50", "1", 265_476),
        ("2024-10-16", "2024-10-31", 16, "22.50", "0.6", 169_905),
    ]
    assert {s["rate_period"]["annual_max_pence"] for s in october["segments"]} == {CP_OCT}
    # November is all on the new terms: 6,583,800 × 0.6 ÷ 12 = 329,190; September was drafted before
    # the change and its month is before it too: still 1 WTE.
    assert (await draft(pcn, post_id, "2024-11"))["cap_pence"] == 329_190
    assert (await pcn.get(f"/v1/claims/{september['id']}")).json()["cap_pence"] == 519_500  # 6,234,000 ÷ 12
    assert (await act(pcn, october["id"], "submit")).json()["segments"] == october["segments"]


async def test_a_move_to_london_mid_month_pays_each_segment_at_its_column(pcn: httpx.AsyncClient) -> None:
    post_id = await new_post(pcn, hours_per_week="37.5", start_date="2024-04-01")
    assert (await terms(pcn, post_id, effective_from="2024-11-11", geography="inner_london")).status_code == 201
    november = await draft(pcn, post_id, "2024-11")
    # 10 days national (6,583,800), 20 days inner London (7,631,300), of 30:
    # (6,583,800 × 10 + 7,631,300 × 20) ÷ 30 ÷ 12 = 218,464,000 ÷ 360 = 606,844.44 → 606,844.
    assert november["cap_pence"] == 606_844
    assert [(s["geography"], s["days"], s["rate_period"]["annual_max_pence"]) for s in november["segments"]] == [
        ("national", 10, 6_583_800),
        ("inner_london", 20, 7_631_300),
    ]


async def test_terms_change_only_by_a_new_dated_set(pcn: httpx.AsyncClient, icb: httpx.AsyncClient) -> None:
    post_id = await new_post(pcn, start_date="2024-04-01", leave_date="2025-03-31")
    path = f"/v1/posts/{post_id}"
    etag = (await pcn.get(path)).headers["etag"]
    refused = assert_problem(
        await pcn.patch(path, json={"hours_per_week": "30", "display_name": "x"}, headers={"If-Match": etag}),
        422,
        "post-terms-are-dated",
    )
    assert refused["endpoint"] == f"/v1/posts/{post_id}/terms" and refused["fields"] == ["hours_per_week"]
    assert (await pcn.get(path)).headers["etag"] == etag  # nothing written
    assert_problem(
        await terms(pcn, post_id, effective_from="2024-03-31", hours_per_week="30"), 422, "terms-outside-post"
    )
    assert_problem(
        await terms(pcn, post_id, effective_from="2025-04-01", hours_per_week="30"), 422, "terms-outside-post"
    )
    assert_problem(await terms(pcn, post_id, effective_from="2024-04-01", hours_per_week="30"), 409, "post-terms-exist")
    assert_problem(await terms(pcn, post_id, effective_from="2024-06-01"), 422, "validation-error")  # nothing to change
    assert_problem(await terms(pcn, post_id, effective_from="2024-06-01", hours_per_week=None), 422, "validation-error")
    assert_problem(
        await terms(pcn, post_id, effective_from="2024-06-01", practice_codes=["B82001"]), 422, "practice-not-in-pcn"
    )
    assert_problem(await terms(icb, post_id, effective_from="2024-06-01", hours_per_week="30"), 403, "forbidden")
    assert len((await pcn.get(path)).json()["terms"]) == 1
    # A set between two others leaves the post's latest terms as they are and keeps what it does not name.
    assert (await terms(pcn, post_id, effective_from="2024-09-01", hours_per_week="30")).status_code == 201
    middle = await terms(pcn, post_id, effective_from="2024-06-01", geography="outer_london")
    body = middle.json()
    assert (body["hours_per_week"], body["geography"]) == ("30.00", "national")
    assert [(t["effective_from"], t["hours_per_week"], t["geography"]) for t in body["terms"]] == [
        ("2024-04-01", "37.50", "national"),
        ("2024-06-01", "37.50", "outer_london"),
        ("2024-09-01", "30.00", "national"),
    ]
    assert middle.headers["etag"] != etag


async def test_the_forecast_projects_each_month_on_the_terms_in_force(
    icb: httpx.AsyncClient, pcn: httpx.AsyncClient
) -> None:
    await top_up(icb, 2_000_000)
    post_id = await new_post(pcn, hours_per_week="37.5", start_date="2024-04-01")
    assert (await terms(pcn, post_id, effective_from="2024-10-16", hours_per_week="22.5")).status_code == 201
    forecast = (await pcn.get("/v1/pcns/U00001/forecast", params={"fy": "2024-25"})).json()
    months = {m["month"]: m for m in next(p for p in forecast["posts"] if p["post_id"] == post_id)["months"]}
    # With no claim the basis is the cap: September at 1 WTE (6,234,000 ÷ 12 = 519,500), October in two
    # segments (435,380, as above), November at 0.6 WTE (6,583,800 × 0.6 ÷ 12 = 329,190).
    assert [months[m]["projected_pence"] for m in ("2024-09", "2024-10", "2024-11")] == [519_500, 435_380, 329_190]
