"""Who may do what, through the gateway, for every public endpoint and every kind of client.

Each operation of the merged OpenAPI document has a row: the status each client gets when it calls
the operation on organisations of ICB QHM (PCN U00001, practice A00001). Clients bound elsewhere
(ICB QOX, PCN U00002, practice B00001) are the out-of-scope columns; without credentials, or with a
revoked client, every protected operation is 401. A new endpoint without its row fails the test.
A write that changes what it acts on (a claim moving through its life, a client deleted) acts, in
each call, on a resource of its own that the admin makes first.

Rules (domain.md §8): a resource outside the client's scope does not exist for it, so reading or
writing it by id is 404, as for an unknown id; a 403 is for an action the client's kind may not
take on a resource it can see (a PCN approving its own claim, a dashboard writing) or for a body
naming an organisation outside its scope; lists are filtered. Practice systems read nothing but
their own practices: a tenant's resource answers them 404, the catalogue (public, nobody's tenant)
403, and lists 403.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx

from gateway.main import Gateway
from tests.contract.documented import Contract

ADMIN = {"X-API-Key": "dev-admin-key"}
COLUMNS = ("admin", "icb", "icb_out", "pcn", "pcn_out", "ps", "ps_out", "dash", "dash_out", "dash_nat")
READ = {"admin": 200, "icb": 200, "icb_out": 200, "pcn": 200, "pcn_out": 200, "ps": 403, "ps_out": 403}
READ.update({"dash": 200, "dash_out": 200, "dash_nat": 200})
ADMIN_ONLY_WRITE = dict.fromkeys(COLUMNS, 403) | {"admin": 201}
# One resource of PCN U00001 (ICB QHM): read by those who may read the PCN, 404 to everyone else.
PCN_READ = {"admin": 200, "icb": 200, "icb_out": 404, "pcn": 200, "pcn_out": 404, "ps": 404, "ps_out": 404}
PCN_READ |= {"dash": 200, "dash_out": 404, "dash_nat": 200}
# A write by id to a resource of PCN U00001: 404 to those who cannot read it (as for an unknown id),
# 403 to those who read it but whose kind may not take the action, else the statuses given.
OUT_OF_SCOPE = ("icb_out", "pcn_out", "ps", "ps_out", "dash_out")


# A practice of PCN U00001: also read by the practice system bound to it.
PRACTICE_READ = PCN_READ | {"ps": 200}


def write_by_id(**allowed: int) -> dict[str, int]:
    return dict.fromkeys(COLUMNS, 403) | dict.fromkeys(OUT_OF_SCOPE, 404) | allowed


PCN_WRITE = write_by_id(admin=200, pcn=200)
ICB_WRITE = write_by_id(admin=200, icb=200)

UPLIFT: dict[str, int] = {}
"""The id of the period that supersedes clinical pharmacists' national rate from 1 April 2025."""

RATE_TABLE = (
    b"role_code,geography,effective_from,annual_max_pence,source\n"
    b"care_coordinator,outer_london,2040-04-01,4300000,DES annex\n"
)

_n = itertools.count(1)
_plan_years = itertools.count(2040)

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


def icb_code() -> str:
    """A fresh ICB code: three alphanumerics, whatever ``unique()`` has reached."""
    n, digits = unique(), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return f"Z{digits[n // 36 % 36]}{digits[n % 36]}"


# A claim month that has ended, with a published national rate of clinical_pharmacist (65,838 from 1
# October 2024): 22.5 hours come to 329,190 pence for October, well inside the pot set up below.
CLAIM = {"month": "2024-10", "salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}
# The claim lifecycle, step by step: what brings a fresh draft to each status.
STEPS: dict[str, list[tuple[str, dict[str, str] | None]]] = {
    "draft": [],
    "submitted": [("submit", None)],
    "approved": [("submit", None), ("approve", None)],
    "paid": [("submit", None), ("approve", None), ("pay", {"payment_reference": "BACS-1"})],
}

Body = Callable[[], Any]
Prepare = Callable[[httpx.AsyncClient], Awaitable[tuple[str, Any]]]
"""Makes, as the admin, what one call needs of its own (a fresh claim to submit, say): (path, body)."""


async def new_post(gw: httpx.AsyncClient) -> int:
    response = await gw.post("/v1/posts", json={**POST, "display_name": f"Post {unique()}"}, headers=ADMIN)
    assert response.status_code == 201, response.text
    post_id: int = response.json()["id"]
    return post_id


async def new_claim(gw: httpx.AsyncClient, status: str) -> int:
    """A claim of PCN U00001 (on a post of its own) brought to ``status`` by the admin."""
    response = await gw.post("/v1/claims", json={**CLAIM, "post_id": await new_post(gw)}, headers=ADMIN)
    assert response.status_code == 201, response.text
    claim_id: int = response.json()["id"]
    for action, body in STEPS[status]:
        response = await gw.post(f"/v1/claims/{claim_id}/{action}", json=body, headers=ADMIN)
        assert response.status_code == 200, response.text
    return claim_id


def claim_in(status: str, action: str, body: Body | None = None) -> Prepare:
    """Each call acts on a claim of its own in ``status``: ``POST /v1/claims/{id}/{action}``."""

    async def prepare(gw: httpx.AsyncClient) -> tuple[str, Any]:
        return f"/v1/claims/{await new_claim(gw, status)}/{action}", body() if body else None

    return prepare


# Monthly returns: one per PCN and month, so each call takes a month of its own. An open return with no
# line takes a month far ahead; one with a line to submit takes an ended month with a rate (from April
# 2022, on a post of its own from then), never October 2024 (the claims above draft that month).
_ahead = (f"{2030 + n // 12}-{n % 12 + 1:02d}" for n in itertools.count())
_ended = iter(
    [f"{y}-{m:02d}" for y in range(2022, 2027) for m in range(1, 13) if "2022-04" <= f"{y}-{m:02d}" <= "2026-11"]
)
RETURN_STEPS: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
    "open": [],
    "declared": [("declare", {"declaration": "As employed and not in the baseline."})],
    "submitted": [("declare", {"declaration": "As employed and not in the baseline."}), ("submit", None)],
    "approved": [
        ("declare", {"declaration": "As employed and not in the baseline."}),
        ("submit", None),
        ("approve", {}),
    ],
}


def new_return_body() -> dict[str, str]:
    return {"pcn_code": "U00001", "month": next(_ahead), "payee_code": "A00001"}


def return_in(status: str, action: str, body: Body | None = None) -> Prepare:
    """Each call acts on a return of its own in ``status`` (with one line, but for an open one):
    ``POST /v1/claim-returns/{id}/{action}``."""

    async def prepare(gw: httpx.AsyncClient) -> tuple[str, Any]:
        if status == "open":
            made = new_return_body()
        else:
            month = next(m for m in _ended if m != "2024-10")
            year = int(month[:4]) - (1 if int(month[5:]) < 4 else 0)
            fy = f"{year}-{(year + 1) % 100:02d}"
            funds = {"pot": "arrs", "amount_pence": 1_000_000, "reason": "A return of the matrix"}
            response = await gw.post(f"/v1/pcns/U00001/budgets/{fy}/allocations", json=funds, headers=ADMIN)
            assert response.status_code == 201, response.text
            post = {**POST, "start_date": "2022-04-01", "display_name": f"Post {unique()}"}
            post_id = (await gw.post("/v1/posts", json=post, headers=ADMIN)).json()["id"]
            drafted = await gw.post("/v1/claims", json={**CLAIM, "month": month, "post_id": post_id}, headers=ADMIN)
            assert drafted.status_code == 201, drafted.text
            made = {"pcn_code": "U00001", "month": month, "payee_code": "A00001"}
        response = await gw.post("/v1/claim-returns", json=made, headers=ADMIN)
        assert response.status_code == 201, response.text
        return_id = response.json()["id"]
        for step, step_body in RETURN_STEPS[status]:
            response = await gw.post(f"/v1/claim-returns/{return_id}/{step}", json=step_body, headers=ADMIN)
            assert response.status_code == 200, response.text
        return f"/v1/claim-returns/{return_id}/{action}", body() if body else None

    return prepare


async def draft_of_a_new_post(gw: httpx.AsyncClient) -> tuple[str, Any]:
    """Each call drafts the claim of a post of its own (a second claim of a post and month is 409)."""
    return "/v1/claims", {**CLAIM, "post_id": await new_post(gw)}


async def new_plan_year(gw: httpx.AsyncClient) -> tuple[str, Any]:
    """Each call sets the first plan of a year of its own (a second PUT of a year needs its ETag)."""
    start = next(_plan_years)
    return f"/v1/pcns/U00001/workforce-plans/{start}-{(start + 1) % 100:02d}", {"lines": []}


PLAN = {"purpose": "Medicines work off GPs.", "practice_codes": ["A00001"]}
KPI = {"name": "SMRs", "unit": "count", "direction": "higher_is_better", "frequency": "monthly", "target": 40}
WORKLOAD = {
    "practice_code": "A00001",
    "grain": "week",
    "period_start": "2024-10-07",
    "hcp_role": "gp",
    "national_category": "general_consultation_routine",
    "mode": "face_to_face",
    "status": "attended",
    "appointments": 120,
}
# Writes on what a client may see but whose version it has not read: If-Match "*" (the first version is
# made before the rows run).
IF_MATCH = {("PATCH", None), ("PUT", "/v1/readiness/{pcn_code}")}


async def job_plan_of_a_new_post(gw: httpx.AsyncClient) -> tuple[str, Any]:
    """Each call writes the first job plan of a post of its own (a second PUT needs its ETag)."""
    return f"/v1/job-plans/{await new_post(gw)}", dict(PLAN)


async def template_of_a_new_post(gw: httpx.AsyncClient) -> tuple[str, Any]:
    """Each call starts the job plan of a post of its own (a post with a plan is 409)."""
    return f"/v1/job-plans/{await new_post(gw)}/from-template", None


async def retire_a_new_kpi(gw: httpx.AsyncClient) -> tuple[str, Any]:
    """Each call retires a KPI of its own (of post 1; retiring twice is 409)."""
    response = await gw.post("/v1/job-plans/1/kpis", json=KPI, headers=ADMIN)
    assert response.status_code == 201, response.text
    return f"/v1/kpis/{response.json()['id']}/retire", None


async def throwaway_client(gw: httpx.AsyncClient) -> tuple[str, Any]:
    return f"/v1/clients/{(await make_client(gw, 'dashboard', []))['id']}", None


# (method, path template) → (concrete path or what prepares it per call, body factory, expected status
# per column).
MATRIX: dict[tuple[str, str], tuple[str | Prepare, Body | None, dict[str, int]]] = {
    # The gateway's own endpoints.
    ("POST", "/v1/clients"): ("/v1/clients", lambda: {"name": "x", "kind": "dashboard"}, ADMIN_ONLY_WRITE),
    ("GET", "/v1/clients"): ("/v1/clients", None, dict.fromkeys(COLUMNS, 403) | {"admin": 200}),
    ("DELETE", "/v1/clients/{client_id}"): (throwaway_client, None, dict.fromkeys(COLUMNS, 403) | {"admin": 204}),
    ("GET", "/v1/audit-events"): ("/v1/audit-events", None, dict.fromkeys(COLUMNS, 403) | {"admin": 200}),
    # Scorecards are composed from the services as the caller: their scope is the services' scope.
    ("GET", "/v1/scorecards/{pcn_code}"): ("/v1/scorecards/U00001?fy=2024-25", None, PCN_READ),
    ("GET", "/v1/scorecards"): ("/v1/scorecards?icb_code=QHM&fy=2024-25", None, READ),
    # The catalogue: everybody but practice systems reads it, the admin writes it.
    ("GET", "/v1/roles"): ("/v1/roles", None, READ),
    ("GET", "/v1/rates"): ("/v1/rates", None, READ),
    ("GET", "/v1/rates/gaps"): ("/v1/rates/gaps?fy=2024-25", None, READ),
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
    # The annex rate table, as CSV (bytes are sent as text/csv): admins only.
    ("POST", "/v1/rates/imports"): ("/v1/rates/imports", lambda: RATE_TABLE, ADMIN_ONLY_WRITE | {"admin": 200}),
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
    ("POST", "/v1/icbs"): ("/v1/icbs", lambda: {"code": icb_code(), "name": "New ICB"}, ADMIN_ONLY_WRITE),
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
    ("GET", "/v1/pcns/{pcn_code}"): ("/v1/pcns/U00001", None, PCN_READ),
    ("PATCH", "/v1/pcns/{pcn_code}"): (
        "/v1/pcns/U00001",
        lambda: {"name": f"Renamed {unique()}"},
        ICB_WRITE,
    ),
    ("PUT", "/v1/pcns/{pcn_code}/weighted-populations/{fy}"): (
        "/v1/pcns/U00001/weighted-populations/2024-25",
        lambda: {"weighted_population": f"{50_000 + unique()}.250", "reference_date": "2024-01-01"},
        ICB_WRITE,
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
        write_by_id(admin=422, icb=422),
    ),
    ("POST", "/v1/pcns/{pcn_code}/budgets/{fy}/allocations"): (
        "/v1/pcns/U00001/budgets/2024-25/allocations",
        lambda: {"pot": "arrs", "amount_pence": 1_000 + unique(), "reason": "Agreed top-up"},
        write_by_id(admin=201, icb=201),
    ),
    ("POST", "/v1/pcns/{pcn_code}/budgets/{fy}/close"): (
        "/v1/pcns/U00001/budgets/2021-22/close",  # a year that has ended and that no claim or return uses
        None,
        ICB_WRITE,
    ),
    ("GET", "/v1/pcns/{pcn_code}/budgets/{fy}"): ("/v1/pcns/U00001/budgets/2024-25", None, PCN_READ),
    ("GET", "/v1/budgets"): ("/v1/budgets?fy=2024-25", None, READ),
    ("GET", "/v1/pcns/{pcn_code}/ledger"): ("/v1/pcns/U00001/ledger", None, PCN_READ),
    # Posts: a PCN manages its own, its ICB and dashboards read them. Post 1 (of PCN U00001) is made
    # before the rows run. Creating one names the PCN in the body: 403 to all but the PCN and admins.
    ("POST", "/v1/posts"): (
        "/v1/posts",
        lambda: {**POST, "display_name": f"Post {unique()}"},
        dict.fromkeys(COLUMNS, 403) | {"admin": 201, "pcn": 201},
    ),
    ("GET", "/v1/posts"): ("/v1/posts", None, READ),
    ("GET", "/v1/posts/{post_id}"): ("/v1/posts/1", None, PCN_READ),
    ("PATCH", "/v1/posts/{post_id}"): (
        "/v1/posts/1",
        lambda: {"display_name": f"Renamed {unique()}"},
        PCN_WRITE,
    ),
    # Dated terms: a new set from a day of its own each time (post 1 starts on 1 April 2024).
    ("POST", "/v1/posts/{post_id}/terms"): (
        "/v1/posts/1/terms",
        lambda: {"effective_from": (date(2024, 4, 1) + timedelta(days=unique())).isoformat(), "hours_per_week": "30"},
        write_by_id(admin=201, pcn=201),
    ),
    # Claims: a PCN drafts, submits and withdraws its own; its ICB approves, rejects and pays them; the
    # PCN, its ICB or an admin adjusts a paid one. Claim 1 (a draft for post 1, 2024-10) and a funded
    # 2024-25 pot are made before the rows run; the writes that change a claim's status each act on a
    # claim of their own. That lists are filtered is checked after the rows.
    ("GET", "/v1/claims"): ("/v1/claims", None, READ),
    ("GET", "/v1/claims/{claim_id}"): ("/v1/claims/1", None, PCN_READ),
    ("PATCH", "/v1/claims/{claim_id}"): ("/v1/claims/1", lambda: {"salary_pence": 400_000 + unique()}, PCN_WRITE),
    ("POST", "/v1/claims/preview"): (
        "/v1/claims/preview",
        lambda: {**CLAIM, "post_id": 1, "month": "2024-11"},  # post 1 has no claim for November
        PCN_WRITE,
    ),
    ("POST", "/v1/claims"): (draft_of_a_new_post, None, PCN_WRITE | {"admin": 201, "pcn": 201}),
    ("POST", "/v1/claims/{claim_id}/submit"): (claim_in("draft", "submit"), None, PCN_WRITE),
    # An uplift, previewed (it writes nothing): the PCN, its ICB or an admin. The superseding period of
    # clinical pharmacists from 1 April 2025 is made before the rows run.
    ("POST", "/v1/pcns/{pcn_code}/budgets/{fy}/uplifts"): (
        "/v1/pcns/U00001/budgets/2025-26/uplifts",
        lambda: {"rate_period_id": UPLIFT["rate_period_id"], "post_ids": [1]},
        write_by_id(admin=200, icb=200, pcn=200),
    ),
    # Returns: scoped as claims. Return 1 (open, no line) is made before the rows run.
    ("POST", "/v1/claim-returns"): (
        "/v1/claim-returns",
        new_return_body,
        dict.fromkeys(COLUMNS, 403) | {"admin": 201, "pcn": 201},
    ),
    ("GET", "/v1/claim-returns"): ("/v1/claim-returns", None, READ),
    ("GET", "/v1/claim-returns/{return_id}"): ("/v1/claim-returns/1", None, PCN_READ),
    ("POST", "/v1/claim-returns/{return_id}/declare"): (
        return_in("open", "declare", lambda: {"declaration": "As employed and not in the baseline."}),
        None,
        PCN_WRITE,
    ),
    ("POST", "/v1/claim-returns/{return_id}/submit"): (return_in("declared", "submit"), None, PCN_WRITE),
    ("POST", "/v1/claim-returns/{return_id}/approve"): (return_in("submitted", "approve", dict), None, ICB_WRITE),
    ("POST", "/v1/claim-returns/{return_id}/reject"): (
        return_in("submitted", "reject", lambda: {"reason": "Hours do not match the contract"}),
        None,
        ICB_WRITE,
    ),
    ("POST", "/v1/claim-returns/{return_id}/pay"): (
        return_in("approved", "pay", lambda: {"payment_reference": f"BACS-R{unique()}"}),
        None,
        ICB_WRITE,
    ),
    ("POST", "/v1/claims/{claim_id}/withdraw"): (
        claim_in("draft", "withdraw", lambda: {"reason": "Entered twice"}),
        None,
        PCN_WRITE,
    ),
    ("POST", "/v1/claims/{claim_id}/approve"): (claim_in("submitted", "approve"), None, ICB_WRITE),
    ("POST", "/v1/claims/{claim_id}/reject"): (
        claim_in("submitted", "reject", lambda: {"reason": "Hours do not match the contract"}),
        None,
        ICB_WRITE,
    ),
    ("POST", "/v1/claims/{claim_id}/pay"): (
        claim_in("approved", "pay", lambda: {"payment_reference": f"BACS-{unique()}"}),
        None,
        ICB_WRITE,
    ),
    ("POST", "/v1/claims/{claim_id}/adjustments"): (
        # The corrected amounts come under the cap: a negative adjustment, to be recovered.
        claim_in(
            "paid",
            "adjustments",
            lambda: {
                "salary_pence": 200_000,
                "employer_ni_pence": 20_000,
                "employer_pension_pence": 30_000,
                "reason": "Salary overstated",
            },
        ),
        None,
        write_by_id(admin=201, icb=201, pcn=201),
    ),
    # Planning: whoever may read the PCN reads its forecast, headroom and workforce plan (the 2024-25 plan
    # is set before the rows run); the PCN itself or an admin sets a plan, each call the first plan of a
    # year of its own.
    ("GET", "/v1/pcns/{pcn_code}/forecast"): ("/v1/pcns/U00001/forecast?fy=2024-25", None, PCN_READ),
    ("GET", "/v1/pcns/{pcn_code}/headroom"): (
        "/v1/pcns/U00001/headroom?role_code=clinical_pharmacist&from_month=2025-01",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/pcns/{pcn_code}/workforce-plans/{fy}"): ("/v1/pcns/U00001/workforce-plans/2024-25", None, PCN_READ),
    ("PUT", "/v1/pcns/{pcn_code}/workforce-plans/{fy}"): (
        new_plan_year,
        None,
        write_by_id(admin=201, pcn=201),
    ),
    ("GET", "/v1/practices/{practice_code}"): ("/v1/practices/A00001", None, PRACTICE_READ),
    # Evaluation: job plans, KPIs and readiness belong to the PCN of the post, which writes them (and the
    # admin); its ICB and dashboards read them. Post 1 has a job plan and KPI 1, and PCN U00001 a
    # readiness, made before the rows run.
    ("PUT", "/v1/job-plans/{post_id}"): (job_plan_of_a_new_post, None, write_by_id(admin=201, pcn=201)),
    ("GET", "/v1/job-plans/{post_id}"): ("/v1/job-plans/1", None, PCN_READ),
    ("GET", "/v1/job-plans/{post_id}/versions"): ("/v1/job-plans/1/versions", None, PCN_READ),
    ("GET", "/v1/job-plans/{post_id}/versions/{version}"): ("/v1/job-plans/1/versions/1", None, PCN_READ),
    ("POST", "/v1/job-plans/{post_id}/from-template"): (template_of_a_new_post, None, write_by_id(admin=201, pcn=201)),
    ("POST", "/v1/job-plans/{post_id}/kpis"): (
        "/v1/job-plans/1/kpis",
        lambda: dict(KPI),
        write_by_id(admin=201, pcn=201),
    ),
    ("GET", "/v1/job-plans/{post_id}/kpis"): ("/v1/job-plans/1/kpis", None, PCN_READ),
    ("GET", "/v1/kpis/{kpi_id}"): ("/v1/kpis/1", None, PCN_READ),
    ("PATCH", "/v1/kpis/{kpi_id}"): ("/v1/kpis/1", lambda: {"name": f"SMRs {unique()}"}, PCN_WRITE),
    ("POST", "/v1/kpis/{kpi_id}/retire"): (retire_a_new_kpi, None, PCN_WRITE),
    ("POST", "/v1/kpis/{kpi_id}/measurements"): (
        "/v1/kpis/1/measurements",
        lambda: [{"period_start": "2024-10-01", "value": unique()}],
        PCN_WRITE,
    ),
    ("GET", "/v1/kpis/{kpi_id}/measurements"): ("/v1/kpis/1/measurements", None, PCN_READ),
    ("GET", "/v1/kpis/{kpi_id}/measurements/history"): ("/v1/kpis/1/measurements/history", None, PCN_READ),
    ("PUT", "/v1/readiness/{pcn_code}"): (
        "/v1/readiness/U00001",
        lambda: {"cells": [{"area": "estates", "lens": "operations", "status": "in_progress"}]},
        PCN_WRITE,
    ),
    ("GET", "/v1/readiness/{pcn_code}"): ("/v1/readiness/U00001", None, PCN_READ),
    ("GET", "/v1/readiness/{pcn_code}/history"): ("/v1/readiness/U00001/history", None, PCN_READ),
    # The analyses: read by whoever reads the PCN or post; retention is a list (filtered, 403 to practices).
    ("GET", "/v1/evaluations/posts/{post_id}/kpi-attainment"): (
        "/v1/evaluations/posts/1/kpi-attainment",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/evaluations/pcns/{pcn_code}/at-risk-posts"): (
        "/v1/evaluations/pcns/U00001/at-risk-posts",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/evaluations/posts/{post_id}/workload-shift"): (
        "/v1/evaluations/posts/1/workload-shift",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/evaluations/pcns/{pcn_code}/roles/{role_code}/workload-shift"): (
        "/v1/evaluations/pcns/U00001/roles/clinical_pharmacist/workload-shift",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/evaluations/pcns/{pcn_code}/true-cost"): (
        "/v1/evaluations/pcns/U00001/true-cost?fy=2024-25",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/evaluations/retention"): ("/v1/evaluations/retention", None, READ),
    ("GET", "/v1/evaluations/pcns/{pcn_code}/summary"): (
        "/v1/evaluations/pcns/U00001/summary?fy=2024-25",
        None,
        PCN_READ,
    ),
    ("GET", "/v1/evaluations/pcn-summaries"): ("/v1/evaluations/pcn-summaries?icb_code=QHM", None, READ),
    # Workload and list sizes: the admin and a practice system post them, the latter for its own
    # practices only (a record of another practice refuses the batch); a practice is read by whoever
    # may see it.
    ("POST", "/v1/workload"): (
        "/v1/workload",
        lambda: [dict(WORKLOAD)],
        dict.fromkeys(COLUMNS, 403) | {"admin": 200, "ps": 200},
    ),
    ("GET", "/v1/workload"): ("/v1/workload?practice_code=A00001", None, PRACTICE_READ),
    ("POST", "/v1/list-sizes"): (
        "/v1/list-sizes",
        lambda: [{"practice_code": "A00001", "month": "2024-10", "registered_patients": 10_000}],
        dict.fromkeys(COLUMNS, 403) | {"admin": 200, "ps": 200},
    ),
    ("GET", "/v1/list-sizes"): ("/v1/list-sizes?practice_code=A00001", None, PRACTICE_READ),
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
        contract = Contract((await gw.get("/openapi.json")).json())

        for code, name in (("QHM", "North East"), ("QOX", "South West")):
            assert (await gw.post("/v1/icbs", json={"code": code, "name": name}, headers=ADMIN)).status_code == 201
        for pcn, icb, practices in (("U00001", "QHM", ["A00001", "A00002"]), ("U00002", "QOX", ["B00001"])):
            new_pcn = {"code": pcn, "name": pcn, "icb_code": icb, "practice_codes": practices, "list_size": 20_000}
            assert (await gw.post("/v1/pcns", json=new_pcn, headers=ADMIN)).status_code == 201
        assert (await gw.post("/v1/posts", json=POST, headers=ADMIN)).json()["id"] == 1
        funds = {"pot": "arrs", "amount_pence": 100_000_000, "reason": "Claims of the matrix"}
        response = await gw.post("/v1/pcns/U00001/budgets/2024-25/allocations", json=funds, headers=ADMIN)
        assert response.status_code == 201, response.text
        response = await gw.post("/v1/claims", json={**CLAIM, "post_id": 1}, headers=ADMIN)
        assert response.status_code == 201 and response.json()["id"] == 1, response.text
        response = await gw.post("/v1/claim-returns", json=new_return_body(), headers=ADMIN)
        assert response.status_code == 201 and response.json()["id"] == 1, response.text
        periods = (await gw.get("/v1/roles/clinical_pharmacist", headers=ADMIN)).json()["rate_periods"]
        old = next(
            p
            for p in periods
            if (p["geography"], p["effective_from"], p["status"]) == ("national", "2025-04-01", "current")
        )
        uplift = {
            "geography": "national",
            "effective_from": "2025-04-01",
            "annual_max_pence": old["annual_max_pence"],
            "provenance": "published",
            "source": "The same figure, restated",
            "supersedes_id": old["id"],
        }
        response = await gw.post("/v1/roles/clinical_pharmacist/rates", json=uplift, headers=ADMIN)
        assert response.status_code == 201, response.text
        UPLIFT["rate_period_id"] = response.json()["id"]
        response = await gw.put("/v1/pcns/U00001/workforce-plans/2024-25", json={"lines": []}, headers=ADMIN)
        assert response.status_code == 201, response.text
        for first_path, first_body, first_method in (
            ("/v1/job-plans/1", PLAN, "PUT"),
            ("/v1/job-plans/1/kpis", KPI, "POST"),
            ("/v1/readiness/U00001", {"cells": []}, "PUT"),
        ):
            response = await gw.request(first_method, first_path, json=first_body, headers=ADMIN)
            assert response.status_code == 201, response.text

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
        undocumented: list[str] = []  # every answer is one its operation documents, with its headers
        for (method, template), (path, body, expected) in sorted(MATRIX.items()):
            assert set(expected) == set(COLUMNS), f"{method} {template}: the row must name every column"
            for column, headers in [*keys.items(), *denied.items()]:
                target, payload = await path(gw) if callable(path) else (path, body() if body else None)
                extra = {"If-Match": "*"} if (method, None) in IF_MATCH or (method, template) in IF_MATCH else {}
                sent: dict[str, Any] = (
                    {"content": payload, "headers": {**headers, **extra, "Content-Type": "text/csv"}}
                    if isinstance(payload, bytes)
                    else {"json": payload, "headers": {**headers, **extra}}
                )
                response = await gw.request(method, target, **sent)
                undocumented += [f"as {column}: {problem}" for problem in contract.check(method, template, response)]
                want = expected.get(column, 401)
                if response.status_code != want:
                    mismatches.append(
                        f"{method} {template} as {column}: {response.status_code}, want {want}: {response.text[:160]}"
                    )
        assert not mismatches, "\n".join(mismatches)
        assert not undocumented, "answers outside the OpenAPI document:\n" + "\n".join(undocumented)

        # Lists are filtered: every claim above is PCN U00001's (ICB QHM).
        for column in ("admin", "icb", "icb_out", "pcn", "pcn_out", "dash", "dash_out", "dash_nat"):
            page = (await gw.get("/v1/claims", params={"limit": 500}, headers=keys[column])).json()
            seen = {claim["pcn_code"] for claim in page["data"]}
            assert seen == (set() if column.endswith("_out") else {"U00001"}), f"claims listed to {column}: {seen}"
