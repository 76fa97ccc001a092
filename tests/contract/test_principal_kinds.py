"""Every service names the client kinds it serves: a principal signed by the gateway's secret but of a
kind the service does not know is refused with 401, on a read and on a write, and a known kind passes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from arrs_kit.principal import Principal
from arrs_kit.testing import asgi_client, assert_problem

READS = {"roles": "/v1/roles", "budget": "/v1/icbs", "evaluation": "/v1/readiness/U00001"}


@pytest.mark.parametrize("name", sorted(READS))
async def test_a_kind_the_service_does_not_know_is_refused(service_apps: dict[str, FastAPI], name: str) -> None:
    app = service_apps[name]
    async with asgi_client(app, principal=Principal(kind="root", client_id="c1", name="Root")) as client:
        assert_problem(await client.get(READS[name]), 401, "unauthenticated")
        assert_problem(await client.post(READS[name], json={}), 401, "unauthenticated")
    async with asgi_client(app, principal=Principal(kind="dashboard", client_id="c2", name="Dash")) as client:
        assert (await client.get(READS[name])).status_code != 401
