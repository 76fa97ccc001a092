"""Bad request bodies refused by the pydantic schema their route validates them with: no database, no
app. Each case is a body an HTTP test used to send on SQLite and PostgreSQL to see 422
``validation-error`` (the full valid body that test builds, changed by the case).

A body is checked as it arrives: the JSON text in JSON mode (``model_validate_json``), and the decoded
JSON as FastAPI validates a body (``validate_python(..., from_attributes=True)``). The valid bodies
are accepted both ways, so each refusal is the change's doing, and each route is asserted to take its
body as the schema tested here. Each route keeps one HTTP test that sends one such body and asserts
422 ``validation-error`` and that nothing was written (test_posts.py, test_organisations.py,
test_budgets.py); bodies refused by a path parameter, a dependency or a service rule stay there."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from budget.routers import budgets, funding_rates, organisations, posts
from budget.schemas.budgets import AllocationCreate, FundingRatePut
from budget.schemas.posts import PostCreate, PostUpdate
from budget.schemas.register import IcbCreate, PcnCreate, PcnUpdate, WeightedPopulationPut

from .test_organisations import NEW_PCN, WP
from .test_posts import POST


def refused(schema: type[BaseModel], body: dict[str, Any]) -> list[ErrorDetails]:
    """Assert ``schema`` refuses ``body`` sent as JSON, both ways; the JSON mode's errors."""
    raw = json.dumps(body)
    with pytest.raises(ValidationError) as as_json:
        schema.model_validate_json(raw)
    with pytest.raises(ValidationError):
        schema.model_validate(json.loads(raw), from_attributes=True)
    return as_json.value.errors()


def accepted(schema: type[BaseModel], body: dict[str, Any]) -> None:
    raw = json.dumps(body)
    schema.model_validate_json(raw)
    schema.model_validate(json.loads(raw), from_attributes=True)


ROUTES: list[tuple[APIRouter, str, str, type[BaseModel]]] = [
    (posts.router, "POST", "/v1/posts", PostCreate),
    (posts.router, "PATCH", "/v1/posts/{post_id}", PostUpdate),
    (organisations.router, "POST", "/v1/icbs", IcbCreate),
    (organisations.router, "POST", "/v1/pcns", PcnCreate),
    (organisations.router, "PATCH", "/v1/pcns/{pcn_code}", PcnUpdate),
    (organisations.router, "PUT", "/v1/pcns/{pcn_code}/weighted-populations/{fy}", WeightedPopulationPut),
    (funding_rates.router, "PUT", "/v1/funding-rates/{fy}", FundingRatePut),
    (budgets.router, "POST", "/v1/pcns/{pcn_code}/budgets/{fy}/allocations", AllocationCreate),
]


@pytest.mark.parametrize(("router", "method", "path", "schema"), ROUTES)
def test_each_route_takes_its_body_as_the_schema_tested_here(
    router: APIRouter, method: str, path: str, schema: type[BaseModel]
) -> None:
    (route,) = [r for r in router.routes if isinstance(r, APIRoute) and r.path == path and method in (r.methods or ())]
    assert route.body_field is not None
    assert route.body_field.field_info.annotation is schema


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        (PostCreate, POST),
        (PostUpdate, {"hours_per_week": "48", "baseline": True, "unfunded_costs_monthly_pence": {"other": 5}}),
        (PostUpdate, {"leave_date": None, "funding_share": None, "staff_reference": None}),
        (IcbCreate, {"code": "qhm", "name": "North East and North Cumbria"}),
        (PcnCreate, NEW_PCN),
        (PcnUpdate, {"name": "Riverside and Quay PCN", "list_size": 53_500}),
        (PcnUpdate, {"practice_codes": ["A81001"], "effective_date": "2024-06-01"}),
        (WeightedPopulationPut, WP),
        (FundingRatePut, {"arrs_per_weighted_patient": "22.894"}),
        (FundingRatePut, {"arrs_per_weighted_patient": "22.894", "arrs_gp_per_weighted_patient": "1.303"}),
        (AllocationCreate, {"pot": "arrs", "amount_pence": 100, "reason": "x"}),
        (AllocationCreate, {"pot": "arrs_gp", "amount_pence": -100, "reason": "x"}),
    ],
)
def test_the_valid_bodies_are_accepted(schema: type[BaseModel], body: dict[str, Any]) -> None:
    accepted(schema, body)


# POST /v1/posts: test_posts.POST changed by each case (was test_posts.py::test_invalid_bodies_are_refused).
@pytest.mark.parametrize(
    "changes",
    [
        {"hours_per_week": "0"},
        {"hours_per_week": "0.00"},
        {"hours_per_week": "48.01"},
        {"hours_per_week": "22.505"},
        {"hours_per_week": "-1"},
        {"hours_per_week": 22.5},
        {"hours_per_week": "22,5"},
        {"hours_per_week": "٢٢"},
        {"role_code": "Clinical_Pharmacist"},
        {"role_code": "clinical pharmacist"},
        {"role_code": ""},
        {"geography": "scotland"},
        {"employment_model": "agency"},
        {"employer_code": "AB"},
        {"employer_code": "ABCDEFGHIJ"},
        {"employer_code": "A8-001"},
        {"pcn_code": "X00001"},
        {"practice_codes": []},
        {"practice_codes": ["A81001", "a81001"]},
        {"practice_codes": ["A8100"]},
        {"supervisor": {"name": "Dr A"}},
        {"supervisor": {"name": "Dr A", "role": "GP", "phone": "0"}},
        {"baseline": "yes"},
        {"baseline": 1},
        {"baseline": None},
        {"funding_share": "0.75001"},
        {"funding_share": "1.5"},
        {"funding_share": "0"},
        {"funding_share": "0.0"},
        {"funding_share": 0.5},
        {"start_date": "2024-4-1"},
        {"start_date": 20240401},
        {"leave_date": "1999-12-31"},
        {"display_name": ""},
        {"display_name": "Bad\u0000name"},
        {"afc_band": "7\u001b"},
        {"staff_reference": "HR\u0007"},
        {"supervisor": {"name": "Dr\u0000A", "role": "GP"}},
        {"unfunded_costs_monthly_pence": {"vat": -1}},
        {"unfunded_costs_monthly_pence": {"vat": "100"}},
        {"unfunded_costs_monthly_pence": {"vat": 1.5}},
        {"unfunded_costs_monthly_pence": {"vat": True}},
        {"unfunded_costs_monthly_pence": {"parking": 1}},
        {"nhs_number": "9434765919"},
    ],
)
def test_post_create_refuses(changes: dict[str, Any]) -> None:
    refused(PostCreate, {**POST, **changes})


# PATCH /v1/posts/{post_id}: the body is the case (was test_posts.py::test_patch_validation_writes_nothing).
@pytest.mark.parametrize(
    "body",
    [
        {"pcn_code": "U00002"},
        {"role_code": "paramedic"},
        {"display_name": None},
        {"hours_per_week": None},
        {"hours_per_week": "48.5"},
        {"baseline": "no"},
        {"afc_band": "8a\u0000"},
        {"unfunded_costs_monthly_pence": {"other": -5}},
    ],
)
def test_post_update_refuses(body: dict[str, Any]) -> None:
    refused(PostUpdate, body)


# POST /v1/icbs: the body is the case (was test_organisations.py::test_bad_icbs_are_422).
@pytest.mark.parametrize(
    "body",
    [
        {"code": "QH", "name": "x"},
        {"code": "QHMM", "name": "x"},
        {"code": "Q-M", "name": "x"},
        {"code": "QHM\n", "name": "x"},
        {"code": "QHM", "name": ""},
        {"code": "QHM", "name": "North\u0000East"},
        {"code": "QHM", "name": "x", "region": "North"},
        {"code": 123, "name": "x"},
        {"name": "x"},
    ],
)
def test_icb_create_refuses(body: dict[str, Any]) -> None:
    refused(IcbCreate, body)


# POST /v1/pcns: test_organisations.NEW_PCN changed by each case, with the field the error names (was
# test_organisations.py::test_bad_pcns_are_422_and_write_nothing).
@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"code": "X00004"}, "code"),
        ({"code": "U0004"}, "code"),
        ({"code": "U000045"}, "code"),
        ({"icb_code": "Q H"}, "icb_code"),
        ({"practice_codes": ["181004"]}, "practice_codes"),
        ({"practice_codes": ["A8100"]}, "practice_codes"),
        ({"practice_codes": ["A81004", "a81004"]}, "practice_codes"),
        ({"practice_codes": []}, "practice_codes"),
        ({"practice_codes": "A81004"}, "practice_codes"),
        ({"list_size": -1}, "list_size"),
        ({"list_size": "40000"}, "list_size"),
        ({"list_size": True}, "list_size"),
        ({"list_size": 40000.5}, "list_size"),
        ({"list_size": 10_000_001}, "list_size"),
        ({"name": ""}, "name"),
        ({"name": "Sea\u0007side"}, "name"),
        ({"effective_date": "2024-02-30"}, "effective_date"),
        ({"effective_date": 20240401}, "effective_date"),
        ({"effective_date": "1999-04-01"}, "effective_date"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_pcn_create_refuses(change: dict[str, Any], loc: str) -> None:
    errors = refused(PcnCreate, {**NEW_PCN, **change})
    assert any(loc in e["loc"] for e in errors), errors


# PATCH /v1/pcns/{pcn_code}: the body is the case (was test_organisations.py::test_bad_patches_are_422).
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"list_size": None},
        {"practice_codes": None},
        {"list_size": -5},
        {"effective_date": "2024-06-01"},
        {"practice_codes": ["A81001", "A81001"]},
        {"code": "U00009"},
        {"icb_code": "QOX"},
    ],
)
def test_pcn_update_refuses(body: dict[str, Any]) -> None:
    refused(PcnUpdate, body)


# PUT /v1/pcns/{pcn_code}/weighted-populations/2024-25: the body is the case (was
# test_organisations.py::test_bad_weighted_populations_are_422, its bad bodies for a good year).
@pytest.mark.parametrize(
    "body",
    [
        {**WP, "weighted_population": "0"},
        {**WP, "weighted_population": "0.000"},
        {**WP, "weighted_population": "-51234"},
        {**WP, "weighted_population": "51234.5678"},
        {**WP, "weighted_population": "5e4"},
        {**WP, "weighted_population": 51234},
        {**WP, "weighted_population": 51234.5},
        {**WP, "reference_date": "2024-1-1"},
        {"weighted_population": "51234"},
        {**WP, "note": "x"},
    ],
)
def test_weighted_population_put_refuses(body: dict[str, Any]) -> None:
    refused(WeightedPopulationPut, body)


# PUT /v1/funding-rates/2024-25: the body is the case (was
# test_budgets.py::test_bad_rates_are_422_and_change_nothing).
@pytest.mark.parametrize(
    "body",
    [
        {"arrs_per_weighted_patient": 22.894},
        {"arrs_per_weighted_patient": "22.8945"},
        {"arrs_per_weighted_patient": "-1"},
        {"arrs_per_weighted_patient": "0"},
        {"arrs_per_weighted_patient": "0.000"},
        {"arrs_per_weighted_patient": "1e3"},
        {"arrs_per_weighted_patient": "abc"},
        {"arrs_per_weighted_patient": "22.894", "arrs_gp_per_weighted_patient": "0"},
        {"arrs_per_weighted_patient": "22.894", "extra": 1},
        {},
    ],
)
def test_funding_rate_put_refuses(body: dict[str, Any]) -> None:
    refused(FundingRatePut, body)


# POST /v1/pcns/U00001/budgets/2024-25/allocations: the body is the case (was
# test_budgets.py::test_bad_allocations_are_422).
@pytest.mark.parametrize(
    "body",
    [
        {"pot": "arrs", "amount_pence": 0, "reason": "x"},
        {"pot": "arrs", "amount_pence": 1.5, "reason": "x"},
        {"pot": "arrs", "amount_pence": "100", "reason": "x"},
        {"pot": "arrs", "amount_pence": True, "reason": "x"},
        {"pot": "arrs", "amount_pence": 10**15, "reason": "x"},
        {"pot": "gp", "amount_pence": 100, "reason": "x"},
        {"pot": "arrs", "amount_pence": 100, "reason": ""},
        {"pot": "arrs", "amount_pence": 100, "reason": "a\u0000b"},
        {"pot": "arrs", "amount_pence": 100},
        {"pot": "arrs", "amount_pence": 100, "reason": "x", "extra": 1},
    ],
)
def test_allocation_create_refuses(body: dict[str, Any]) -> None:
    refused(AllocationCreate, body)


@pytest.mark.parametrize("missing", ["role_code", "hours_per_week", "supervisor", "baseline", "display_name"])
def test_post_create_requires(missing: str) -> None:
    errors = refused(PostCreate, {k: v for k, v in POST.items() if k != missing})
    assert [(e["type"], e["loc"]) for e in errors] == [("missing", (missing,))]
