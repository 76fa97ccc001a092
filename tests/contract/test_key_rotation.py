"""Rotating the gateway secret and the token signing keys without a refused request, as the README's
runbook (Rotating keys) orders the steps.

The gateway secret: the gateway signs every request it forwards with ``ARRS_GATEWAY_SECRET``, and so
do the budget and evaluation services when they read another service; the services also accept the
secrets in ``ARRS_GATEWAY_SECRETS_ACCEPTED``. The rotation goes through four states; during a rolling
restart processes of two neighbouring states run side by side, and every pair of them must agree,
whichever signs and whichever verifies, while a request signed with a secret that is no longer
accepted is refused (401).

The token keys: every key of ``GATEWAY_TOKEN_KEYS`` verifies bearer tokens and the one
``GATEWAY_TOKEN_SIGNING_KEY_ID`` names signs them; gateway replicas of neighbouring states accept
each other's tokens, and a token signed with a removed key is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from functools import partial
from typing import Any

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from arrs_kit import migrate
from arrs_kit.principal import Principal
from arrs_kit.testing import DatabaseFactory, GatewaySigner, assert_problem, signed_headers
from budget.clients.roles import RoleCatalogue
from budget.config import BudgetSettings
from budget.main import create_app as create_budget
from evaluation.clients.budget import BudgetClient
from evaluation.clients.roles import RolesClient
from evaluation.config import EvaluationSettings
from evaluation.main import create_app as create_evaluation
from gateway.config import GatewaySettings
from gateway.main import Gateway
from gateway.main import create_app as create_gateway
from roles.config import RolesSettings
from roles.main import create_app as create_roles
from tests.contract.conftest import roles_catalogue

OLD = "old-gateway-secret-0123456789abcdef0123"
NEW = "new-gateway-secret-fedcba9876543210fedc"
# The runbook's states: what ARRS_GATEWAY_SECRET and ARRS_GATEWAY_SECRETS_ACCEPTED hold in each.
SECRET_STATES: dict[int, tuple[str, list[str]]] = {
    0: (OLD, []),  # before
    1: (OLD, [NEW]),  # step 1: every service also accepts the new secret
    2: (NEW, [OLD]),  # step 2: every process signs with the new secret, the old one still accepted
    3: (NEW, []),  # step 3: the old secret is no longer accepted
}
ADMIN_KEY = {"X-API-Key": "dev-admin-key"}
NOT_SIGNED = "The gateway's signature on this request is not valid."
# A read each service answers for the admin without reading another service.
SERVICE_READS = {"roles": "/v1/roles?limit=1", "budget": "/v1/icbs", "evaluation": "/v1/readiness/U13579"}
ADMIN = Principal(kind="admin", client_id="cl_admin", name="platform")
POST = {
    "pcn_code": "U13579",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "K81001",
    "practice_codes": ["K81001"],
    "supervisor": {"name": "Dr A Shah", "role": "GP partner"},
    "baseline": False,
    "display_name": "Pharmacist",
}


def secrets(state: int) -> dict[str, Any]:
    """The platform's settings of ``state``, as the environment gives them."""
    current, accepted = SECRET_STATES[state]
    return {"ARRS_GATEWAY_SECRET": current, "ARRS_GATEWAY_SECRETS_ACCEPTED": accepted}


@pytest.fixture
def urls(database_factory: DatabaseFactory) -> Iterator[dict[str, str]]:
    """Each app's database (SQLite, migrated; the budget one with a funded PCN and a post), shared by the
    processes of every state, as replicas share their database."""
    made = {
        name: database_factory.create(name, "sqlite", partial(migrate.upgrade, name))
        for name in ("roles", "budget", "evaluation", "gateway")
    }
    pcn = {"code": "U13579", "name": "Sunrise PCN", "icb_code": "QSR", "practice_codes": ["K81001"], "list_size": 9000}
    with roles_catalogue(made["roles"]) as catalogue:
        budget = create_budget(BudgetSettings(database_url=made["budget"]), configure_logs=False, catalogue=catalogue)
        with TestClient(budget, base_url="http://budget") as client:
            for path, body in (
                ("/v1/icbs", {"code": "QSR", "name": "Sunrise ICB"}),
                ("/v1/pcns", pcn),
                (
                    "/v1/pcns/U13579/budgets/2024-25/allocations",
                    {"pot": "arrs", "amount_pence": 900_000, "reason": "r"},
                ),
                ("/v1/posts", POST),
            ):
                response = client.post(path, json=body, auth=GatewaySigner(ADMIN))
                assert response.status_code == 201, response.text
    yield made
    for url in made.values():
        database_factory.drop(url)


@asynccontextmanager
async def platform(
    urls: dict[str, str], *, gateway: int, roles: int, budget: int, evaluation: int, **gateway_settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway and the three services, each process in the rotation state given, wired as
    ``make run`` wires them (each signs its own reads of another service with its own current secret)."""
    with ExitStack() as stack:
        roles_app = create_roles(RolesSettings(database_url=urls["roles"], **secrets(roles)), configure_logs=False)
        roles_client = stack.enter_context(TestClient(roles_app, base_url="http://roles"))
        budget_settings = BudgetSettings(database_url=urls["budget"], **secrets(budget))
        catalogue = RoleCatalogue(
            roles_client, gateway_secret=budget_settings.gateway_secret.get_secret_value(), ttl_s=0
        )
        budget_app = create_budget(budget_settings, configure_logs=False, catalogue=catalogue)
        budget_client = stack.enter_context(TestClient(budget_app, base_url="http://budget"))
        evaluation_settings = EvaluationSettings(database_url=urls["evaluation"], **secrets(evaluation))
        own = evaluation_settings.gateway_secret.get_secret_value()
        evaluation_app = create_evaluation(
            evaluation_settings,
            configure_logs=False,
            budget=BudgetClient(budget_client, gateway_secret=own, ttl_s=0),
            roles=RolesClient(roles_client, gateway_secret=own),
        )
        apps = {"roles": roles_app, "budget": budget_app, "evaluation": evaluation_app}
        settings = GatewaySettings(database_url=urls["gateway"], **secrets(gateway), **gateway_settings)
        gw: Gateway = create_gateway(
            settings,
            transports={name: httpx.ASGITransport(app=app) for name, app in apps.items()},
            configure_logs=False,
        )
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw") as client:
                yield client
        finally:
            await gw.aclose()
            for app in apps.values():
                app.state.db.dispose()


def accepted(response: httpx.Response) -> bool:
    """Whether the service took the gateway's signature (a refusal is the service's own 401)."""
    if response.status_code == 401:
        assert_problem(response, 401, "unauthenticated")
        assert response.json()["detail"] == NOT_SIGNED, response.text
        return False
    assert response.status_code == 200, response.text
    return True


# Which signatures each state's services accept: rows are the state of the process that signs (the
# gateway here), columns the state of the service that verifies.
EXPECTED = {
    0: {0: True, 1: True, 2: True, 3: False},
    1: {0: True, 1: True, 2: True, 3: False},
    2: {0: False, 1: True, 2: True, 3: True},
    3: {0: False, 1: True, 2: True, 3: True},
}


async def test_the_gateway_secret_rotates_and_neighbouring_steps_always_agree(urls: dict[str, str]) -> None:
    seen: dict[int, dict[int, bool]] = {}
    for signer in SECRET_STATES:
        for verifier in SECRET_STATES:
            states = {"roles": verifier, "budget": verifier, "evaluation": verifier}
            async with platform(urls, gateway=signer, **states) as gw:
                answers = {
                    name: accepted(await gw.get(path, headers=ADMIN_KEY)) for name, path in SERVICE_READS.items()
                }
            assert len(set(answers.values())) == 1, (signer, verifier, answers)
            seen.setdefault(signer, {})[verifier] = answers["roles"]
    assert seen == EXPECTED
    # What the runbook's order rests on: a rolling restart only ever mixes a state with its neighbour.
    for state in (0, 1, 2):
        assert seen[state][state + 1] and seen[state + 1][state], state
    # Old-signed requests pass while the old secret is accepted (state 2), and are refused once it is not.
    assert seen[1][2] and not seen[1][3]


async def test_services_reading_each_other_follow_the_same_steps(urls: dict[str, str]) -> None:
    """Service to service: the budget service signs its reads of the roles service (a claim's rate),
    the evaluation service its reads of the budget service (a PCN's posts), each with its own secret."""
    preview = {
        "post_id": 1,
        "month": "2024-10",
        "salary_pence": 450_000,
        "employer_ni_pence": 0,
        "employer_pension_pence": 0,
    }
    at_risk = "/v1/evaluations/pcns/U13579/at-risk-posts?as_of=2024-11-15"
    for caller, callee, works in ((2, 1, True), (1, 2, True), (3, 2, True), (2, 3, True), (2, 0, False)):
        async with platform(urls, gateway=caller, roles=callee, budget=caller, evaluation=caller) as gw:
            answer = await gw.post("/v1/claims/preview", json=preview, headers=ADMIN_KEY)
            if works:
                assert answer.status_code == 200, (caller, callee, answer.text)
            else:  # the roles service refuses the budget service's signature: no rate, no claim
                assert_problem(answer, 503, "roles-unavailable")
        async with platform(urls, gateway=caller, roles=caller, budget=callee, evaluation=caller) as gw:
            answer = await gw.get(at_risk, headers=ADMIN_KEY)
            if works:
                assert answer.status_code == 200, (caller, callee, answer.text)
            else:
                assert_problem(answer, 503, "budget-unavailable")


async def test_a_service_accepts_an_old_signature_only_while_it_is_listed(urls: dict[str, str]) -> None:
    """Straight at a service, as anything that still signs with the old secret would reach it."""
    for state, old_works in ((2, True), (3, False)):
        settings = RolesSettings(database_url=urls["roles"], **secrets(state))
        app = create_roles(settings, configure_logs=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://roles") as client:
            for secret, works in ((OLD, old_works), (NEW, True), ("another-secret-0123456789abcdef0123", False)):
                headers = signed_headers(ADMIN, method="GET", path="/v1/roles", secret=secret)
                response = await client.get("/v1/roles", headers=headers)
                assert accepted(response) is works, (state, secret)
        app.state.db.dispose()


# --- token signing keys ----------------------------------------------------------------------------

K1, K2 = "k1-token-signing-key-0123456789abcdef01", "k2-token-signing-key-fedcba9876543210fe"
TOKEN_STATES: dict[int, dict[str, Any]] = {
    0: {"token_keys": {"k1": K1}, "token_signing_key_id": "k1"},  # before
    1: {"token_keys": {"k1": K1, "k2": K2}, "token_signing_key_id": "k1"},  # step 1: add k2
    2: {"token_keys": {"k1": K1, "k2": K2}, "token_signing_key_id": "k2"},  # step 2: sign with k2
    3: {"token_keys": {"k2": K2}, "token_signing_key_id": "k2"},  # step 3, token_ttl_s later: drop k1
}


async def test_token_keys_rotate_and_replicas_of_neighbouring_steps_accept_each_others_tokens(
    urls: dict[str, str],
) -> None:
    async with platform(urls, gateway=0, roles=0, budget=0, evaluation=0) as gw:
        response = await gw.post(
            "/v1/clients", json={"name": "Dashboard", "kind": "dashboard", "org_codes": []}, headers=ADMIN_KEY
        )
        assert response.status_code == 201, response.text
        client = response.json()
    form = {"grant_type": "client_credentials", "client_id": client["id"], "client_secret": client["client_secret"]}
    tokens: dict[int, str] = {}
    for state, keys in TOKEN_STATES.items():
        async with platform(urls, gateway=0, roles=0, budget=0, evaluation=0, **keys) as gw:
            issued = await gw.post("/v1/oauth/token", data=form)
            assert issued.status_code == 200, issued.text
            tokens[state] = issued.json()["access_token"]
            # A token lasts token_ttl_s: that long after step 2 has rolled out, no k1 token is valid.
            claims = jwt.decode(tokens[state], options={"verify_signature": False})
            assert claims["exp"] - claims["iat"] == GatewaySettings().token_ttl_s
            assert jwt.get_unverified_header(tokens[state])["kid"] == keys["token_signing_key_id"]
    seen: dict[int, dict[int, bool]] = {}
    for state, keys in TOKEN_STATES.items():  # the replica the token is presented to
        async with platform(urls, gateway=0, roles=0, budget=0, evaluation=0, **keys) as gw:
            for issuer, token in tokens.items():
                response = await gw.get("/v1/roles?limit=1", headers={"Authorization": f"Bearer {token}"})
                assert response.status_code in (200, 401), response.text
                seen.setdefault(issuer, {})[state] = response.status_code == 200
    assert seen == EXPECTED  # the same shape as the secret's: neighbouring steps always agree
