"""Operating-plan readiness through the API, on SQLite and PostgreSQL: the whole grid, versions kept,
If-Match, CSV, and who may see and change it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from arrs_kit.testing import assert_problem
from evaluation.readiness import service as readiness
from evaluation.readiness.models import ReadinessVersion

CELLS = [
    {
        "area": "supervision_and_training",
        "lens": "workforce",
        "status": "in_place",
        "owner": "Clinical director",
        "due_date": "2024-06-30",
        "note": "Two GP supervisors agreed.",
    },
    {
        "area": "estates",
        "lens": "operations",
        "status": "in_progress",
        "owner": "PCN manager",
        "due_date": "2020-01-31",
    },
]


async def test_nothing_recorded_is_every_cell_not_started(as_pcn: httpx.AsyncClient) -> None:
    body = (await as_pcn.get("/v1/readiness/U00001")).json()
    assert body["version"] == 0 and len(body["cells"]) == 36
    assert {c["status"] for c in body["cells"]} == {"not_started"}
    assert body["summary"] == {
        "in_place": 0,
        "in_progress": 0,
        "not_started": 36,
        "overdue": 0,
        "percent_in_place": "0.0",
    }


async def test_readiness_is_recorded_replaced_and_kept(as_pcn: httpx.AsyncClient) -> None:
    first = await as_pcn.put("/v1/readiness/u00001", json={"cells": CELLS})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["pcn_code"], body["version"], body["recorded_by"]) == ("U00001", 1, "Riverside PCN manager")
    cell = {(c["area"], c["lens"]): c for c in body["cells"]}
    assert cell[("supervision_and_training", "workforce")]["status"] == "in_place"
    assert cell[("estates", "operations")]["overdue"] is True  # due in 2020, not in place
    assert body["summary"]["in_place"] == 1 and body["summary"]["percent_in_place"] == "2.8"
    assert body["by_area"]["estates"]["in_progress"] == 1
    assert_problem(await as_pcn.put("/v1/readiness/U00001", json={"cells": []}), 428, "precondition-required")
    second = await as_pcn.put(
        "/v1/readiness/U00001", json={"cells": CELLS[:1]}, headers={"If-Match": first.headers["etag"]}
    )
    assert second.status_code == 200 and second.json()["version"] == 2
    assert second.json()["summary"]["in_progress"] == 0  # a cell left out is not_started again
    history = (await as_pcn.get("/v1/readiness/U00001/history")).json()["data"]
    assert [v["version"] for v in history] == [2, 1]
    rows = list(csv.DictReader(io.StringIO((await as_pcn.get("/v1/readiness/U00001", params={"format": "csv"})).text)))
    assert len(rows) == 36 and rows[0]["area"] == "supervision_and_training" and rows[0]["status"] == "in_place"


@pytest.mark.parametrize(
    "cells",
    [
        [CELLS[0], CELLS[0]],  # the same cell twice
        [{**CELLS[0], "status": "done"}],
        [{**CELLS[0], "area": "marketing"}],
        [{**CELLS[0], "lens": "spiritual"}],
        [{**CELLS[0], "due_date": "31/12/2024"}],
        [{**CELLS[0], "note": "bad\x00"}],
        [CELLS[0]] * 37,
    ],
)
async def test_bad_grids_are_422_and_write_nothing(as_pcn: httpx.AsyncClient, cells: list[dict[str, Any]]) -> None:
    assert_problem(await as_pcn.put("/v1/readiness/U00001", json={"cells": cells}), 422, "validation-error")
    assert (await as_pcn.get("/v1/readiness/U00001")).json()["version"] == 0


async def test_who_may_see_and_change_readiness(as_pcn: httpx.AsyncClient, client_as: Any, who: Any) -> None:
    assert (await as_pcn.put("/v1/readiness/U00001", json={"cells": CELLS})).status_code == 201
    async with client_as(who.ICB) as icb, client_as(who.DASHBOARD) as dashboard:
        assert (await icb.get("/v1/readiness/U00001")).json()["version"] == 1
        assert (await dashboard.get("/v1/readiness/U00001")).json()["version"] == 1
        assert_problem(
            await icb.put("/v1/readiness/U00001", json={"cells": []}, headers={"If-Match": "*"}), 403, "forbidden"
        )
    async with client_as(who.OTHER_PCN) as other:
        for response in (
            await other.get("/v1/readiness/U00001"),
            await other.put("/v1/readiness/U00001", json={"cells": []}, headers={"If-Match": "*"}),
        ):
            assert_problem(response, 404, "pcn-not-found")
    async with client_as(who.ADMIN) as admin:
        updated = await admin.put("/v1/readiness/U00001", json={"cells": []}, headers={"If-Match": "*"})
        assert updated.status_code == 200 and updated.json()["version"] == 2


@pytest.mark.parametrize("today", ["2019-12-31", "2024-07-01", "2030-01-01"])
@pytest.mark.parametrize("recorded", [None, CELLS[:1], CELLS])
def test_a_pcn_lists_summary_is_the_summary_of_its_whole_grid(
    recorded: list[dict[str, Any]] | None, today: str
) -> None:
    # The list of an ICB's PCNs counts readiness without building each grid; it must say the same.
    row = (
        None
        if recorded is None
        else ReadinessVersion(
            pcn_code="U00001", version=1, cells=recorded, created_at=datetime(2024, 5, 1, tzinfo=UTC), created_by="t"
        )
    )
    day = date.fromisoformat(today)
    assert readiness.summary(row, day) == readiness.public("U00001", row, day).summary
