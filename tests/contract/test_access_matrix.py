"""Who may do what, through the gateway, for every public endpoint and every kind of client.

Each operation of the merged OpenAPI document has a row: the status each client gets when it calls
the operation on organisations of ICB QHM (PCN U00001, practice A00001). Clients bound elsewhere
(ICB QOX, PCN U00002, practice B00001) are the out-of-scope columns; without credentials, or with a
revoked client, every protected operation is 401. A new endpoint without its row fails the test.

Rules (domain.md §8): reads of one resource outside scope are 404 (no existence leak), writes
outside scope 403, lists are filtered; dashboards never write. Practice systems read nothing but
their own practices: a tenant's resource answers them 404, the catalogue (public, nobody's tenant)
403, and lists 403.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx

from gateway.main import Gateway

ADMIN = {"X-API-Key": "dev-admin-key"}
COLUMNS = ("admin", "icb", "icb_out", "pcn", "pcn_out", "ps", "ps_out", "dash", "dash_out", "dash_nat")
READ = {"admin": 200, "icb": 200, "icb_out": 200, "pcn": 200, "pcn_out": 200, "ps": 403, "ps_out": 403}
READ.update({"dash": 200, "dash_out": 200, "dash_nat": 200})
ADMIN_ONLY_WRITE = dict.fromkeys(COLUMNS, 403) | {"admin": 201}

_n = itertools.count(1)

POST = {
    "pcn_code": "U00001",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "22.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "A00001",
    "practice_codes": ["A00001"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "display_name": "Post",
}


def unique() -> int:
    return next(_n)


Body = Callable[[], Any]

# (method, path template) → (concrete path, body factory, expected status per column).
MATRIX: dict[tuple[str, str], tuple[str, Body | None, dict[str, int]]] = {
    # The gateway's own endpoints.
    ("POST", "/v1/clients"): ("/v1/clients", lambda: {"name": "x", "kind": "dashboard"}, ADMIN_ONLY_WRITE),
    ("GET", "/v1/clients"): ("/v1/clients", None, dict.fromkeys(COLUMNS, 403) | {"admin": 200}),
    ("DELETE", "/v1/clients/{client_id}"): ("{throwaway_client}", None, dict.fromkeys(COLUMNS, 403) | {"admin": 204}),
    ("GET", "/v1/audit-events"): ("/v1/audit-events", None, dict.fromkeys(COLUMNS, 403) | {"admin": 200}),
    # The catalogue: everybody but practice systems reads it, the admin writes it.
    ("GET", "/v1/roles"): ("/v1/roles", None, READ),
    ("GET", "/v1/rates"): ("/v1/rates", None, READ),
    ("GET", "/v1/roles/{role_code}"): ("/v1/roles/care_coordinator", None, READ),
    ("GET", "/v1/roles/{role_code}/job-plan-template"): ("/v1/roles/care_coordinator/job-plan-template", None, READ),
    ("POST", "/v1/roles"): (
        "/v1/roles",
        lambda: {
            "code": f"role_{unique()}",
            "name": "New role",
            "staff_group": "clinical",
            "added_on": "2026-04-01",
            "description": "d",
        },
        ADMIN_ONLY_WRITE,
    ),
    ("PATCH", "/v1/roles/{role_code}"): (
        "/v1/roles/care_coordinator",
        lambda: {"description": f"Edit {unique()}"},
        ADMIN_ONLY_WRITE | {"admin": 200},
    ),
    ("POST", "/v1/roles/{role_code}/rates"): (
        "/v1/roles/care_coordinator/rates",
        lambda: {
            "geography": "national",
            "effective_from": (date(2030, 1, 1) + timedelta(days=unique())).isoformat(),
            "annual_max_pence": 3_500_000,
            "provenance": "published",
            "source": "DES",
        },
        ADMIN_ONLY_WRITE,
    ),
    ("POST", "/v1/roles/{role_code}/funding-shares"): (
        "/v1/roles/care_coordinator/funding-shares",
        lambda: {
            "effective_from": (date(2030, 1, 1) + timedelta(days=unique())).isoformat(),
            "share": "1.0",
            "rule": "r",
            "source": "DES",
        },
        ADMIN_ONLY_WRITE,
    ),
    ("PUT", "/v1/roles/{role_code}/caps/{fy}"): (
        "/v1/roles/care_coordinator/caps/2030-31",
        lambda: {"unit": "posts", "max_below_threshold": 1, "max_at_or_above_threshold": 2, "source": "DES"},
        ADMIN_ONLY_WRITE,  # 201: the admin's call creates the cap
    ),
    ("PUT", "/v1/roles/{role_code}/supervision"): (
        "/v1/roles/care_coordinator/supervision",
        lambda: {"supervisor_roles": ["GP"], "frequency": "monthly", "requirement": "r", "source": "DES"},
        ADMIN_ONLY_WRITE | {"admin": 200},
    ),
    ("PUT", "/v1/roles/{role_code}/job-plan-template"): (
        "/v1/roles/care_coordinator/job-plan-template",
        lambda: {
            "purpose": "p",
            "responsibilities": ["r"],
            "suggested_kpis": [
                {"name": "k", "unit": "count", "direction": "higher_is_better", "frequency": "monthly", "measure": "m"}
            ],
        },
        ADMIN_ONLY_WRITE | {"admin": 200},
    ),
    # The organisation register.
    ("POST", "/v1/icbs"): ("/v1/icbs", lambda: {"code": f"Z{unique():02d}", "name": "New ICB"}, ADMIN_ONLY_WRITE),
    ("GET", "/v1/icbs"): ("/v1/icbs", None, READ),
    ("GET", "/v1/pcns"): ("/v1/pcns", None, READ),
    ("POST", "/v1/pcns"): (
        "/v1/pcns",
        lambda: {
            "code": f"U9{unique():04d}",
            "name": "New PCN",
            "icb_code": "QHM",
            "practice_codes": [f"C9{unique():04d}"],
            "list_size": 10_000,
        },
        ADMIN_ONLY_WRITE | {"icb": 201},
    ),
    ("GET", "/v1/pcns/{pcn_code}"): (
        "/v1/pcns/U00001",
        None,
        {"admin": 200, "icb": 200, "icb_out": 404, "pcn": 200, "pcn_out": 404, "ps": 404, "ps_out": 404}
        | {"dash": 200, "dash_out": 404, "dash_nat": 200},
    ),
    ("PATCH", "/v1/pcns/{pcn_code}"): (
        "/v1/pcns/U00001",
        lambda: {"name": f"Renamed {unique()}"},
        dict.fromkeys(COLUMNS, 403) | {"admin": 200, "icb": 200},
    ),
    ("PUT", "/v1/pcns/{pcn_code}/weighted-populations/{fy}"): (
        "/v1/pcns/U00001/weighted-populations/2024-25",
        lambda: {"weighted_population": f"{50_000 + unique()}.250", "reference_date": "2024-01-01"},
        dict.fromkeys(COLUMNS, 403) | {"admin": 200, "icb": 200},
    ),
    # Funding rates, budgets and the ledger. Rows run in sorted order, so `allocate` runs before any
    # weighted population is set: its 422 (weighted-population-missing) shows the scope check passed.
    ("GET", "/v1/funding-rates"): ("/v1/funding-rates", None, READ),
    ("PUT", "/v1/funding-rates/{fy}"): (
        "/v1/funding-rates/2030-31",
        lambda: {"arrs_per_weighted_patient": "30.125"},
        ADMIN_ONLY_WRITE,  # 201: the admin's call creates the year's rates
    ),
    ("POST", "/v1/pcns/{pcn_code}/budgets/{fy}/allocate"): (
        "/v1/pcns/U00001/budgets/2024-25/allocate",
        None,
        dict.fromkeys(COLUMNS, 403) | {"admin": 422, "icb": 422},
    ),
    ("POST", "/v1/pcns/{pcn_code}/budgets/{fy}/allocations"): (
        "/v1/pcns/U00001/budgets/2024-25/allocations",
        lambda: {"pot": "arrs", "amount_pence": 1_000 + unique(), "reason": "Agreed top-up"},
        dict.fromkeys(COLUMNS, 403) | {"admin": 201, "icb": 201},
    ),
    ("GET", "/v1/pcns/{pcn_code}/budgets/{fy}"): (
        "/v1/pcns/U00001/budgets/2024-25",
        None,
        {"admin": 200, "icb": 200, "icb_out": 404, "pcn": 200, "pcn_out": 404, "ps": 404, "ps_out": 404}
        | {"dash": 200, "dash_out": 404, "dash_nat": 200},
    ),
    ("GET", "/v1/pcns/{pcn_code}/ledger"): (
        "/v1/pcns/U00001/ledger",
        None,
        {"admin": 200, "icb": 200, "icb_out": 404, "pcn": 200, "pcn_out": 404, "ps": 404, "ps_out": 404}
        | {"dash": 200, "dash_out": 404, "dash_nat": 200},
    ),
    # Posts: a PCN manages its own, its ICB and dashboards read them. Post 1 (of PCN U00001) is made
    # before the rows run.
    ("POST", "/v1/posts"): (
        "/v1/posts",
        lambda: {**POST, "display_name": f"Post {unique()}"},
        dict.fromkeys(COLUMNS, 403) | {"admin": 201, "pcn": 201},
    ),
    ("GET", "/v1/posts"): ("/v1/posts", None, READ),
    ("GET", "/v1/posts/{post_id}"): (
        "/v1/posts/1",
        None,
        {"admin": 200, "icb": 200, "icb_out": 404, "pcn": 200, "pcn_out": 404, "ps": 404, "ps_out": 404}
        | {"dash": 200, "dash_out": 404, "dash_nat": 200},
    ),
    ("PATCH", "/v1/posts/{post_id}"): (
        "/v1/posts/1",
        lambda: {"display_name": f"Renamed {unique()}"},
        dict.fromkeys(COLUMNS, 403) | {"admin": 200, "pcn": 200},
    ),
    ("GET", "/v1/practices/{practice_code}"): (
        "/v1/practices/A00001",
        None,
        {"admin": 200, "icb": 200, "icb_out": 404, "pcn": 200, "pcn_out": 404, "ps": 200, "ps_out": 404}
        | {"dash": 200, "dash_out": 404, "dash_nat": 200},
    ),
}

# Operations anyone may call: the token endpoint checks the client's own credentials.
PUBLIC = {("POST", "/v1/oauth/token"), ("GET", "/healthz"), ("GET", "/readyz")}


async def operations(client: httpx.AsyncClient) -> set[tuple[str, str]]:
    document = (await client.get("/openapi.json")).json()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


async def make_client(gw: httpx.AsyncClient, kind: str, codes: list[str]) -> dict[str, str]:
    response = await gw.post("/v1/clients", json={"name": kind, "kind": kind, "org_codes": codes}, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


async def test_every_endpoint_has_its_row_and_every_row_holds(gateway_app: Gateway) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as gw:
        assert await operations(gw) == set(MATRIX) | PUBLIC, "an endpoint is missing its access row (or a row is stale)"

        for code, name in (("QHM", "North East"), ("QOX", "South West")):
            assert (await gw.post("/v1/icbs", json={"code": code, "name": name}, headers=ADMIN)).status_code == 201
        for pcn, icb, practices in (("U00001", "QHM", ["A00001", "A00002"]), ("U00002", "QOX", ["B00001"])):
            new_pcn = {"code": pcn, "name": pcn, "icb_code": icb, "practice_codes": practices, "list_size": 20_000}
            assert (await gw.post("/v1/pcns", json=new_pcn, headers=ADMIN)).status_code == 201
        assert (await gw.post("/v1/posts", json=POST, headers=ADMIN)).json()["id"] == 1

        keys: dict[str, dict[str, str]] = {"admin": ADMIN}
        for column, kind, codes in (
            ("icb", "icb", ["QHM"]),
            ("icb_out", "icb", ["QOX"]),
            ("pcn", "pcn", ["U00001"]),
            ("pcn_out", "pcn", ["U00002"]),
            ("ps", "practice_system", ["A00001"]),
            ("ps_out", "practice_system", ["B00001"]),
            ("dash", "dashboard", ["QHM"]),
            ("dash_out", "dashboard", ["QOX"]),
            ("dash_nat", "dashboard", []),
        ):
            keys[column] = {"X-API-Key": (await make_client(gw, kind, codes))["api_key"]}
        revoked = await make_client(gw, "pcn", ["U00001"])
        assert (await gw.delete(f"/v1/clients/{revoked['id']}", headers=ADMIN)).status_code == 204
        denied = {"none": {}, "revoked": {"X-API-Key": revoked["api_key"]}}

        mismatches = []
        for (method, template), (path, body, expected) in sorted(MATRIX.items()):
            assert set(expected) == set(COLUMNS), f"{method} {template}: the row must name every column"
            for column, headers in [*keys.items(), *denied.items()]:
                target = path
                if path == "{throwaway_client}":
                    target = f"/v1/clients/{(await make_client(gw, 'dashboard', []))['id']}"
                extra = {"If-Match": "*"} if method == "PATCH" else {}
                response = await gw.request(method, target, headers={**headers, **extra}, json=body() if body else None)
                want = expected.get(column, 401)
                if response.status_code != want:
                    mismatches.append(
                        f"{method} {template} as {column}: {response.status_code}, want {want}: {response.text[:160]}"
                    )
        assert not mismatches, "\n".join(mismatches)
