"""Who changed the catalogue is recorded by the client's display name, never its client id (a login
name at the gateway's token endpoint), on SQLite and PostgreSQL (security probe, issue 9)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import String, Text, create_engine, select

from arrs_kit.principal import Principal
from arrs_kit.testing import asgi_client
from roles.models import RolesBase

ADMIN = Principal(kind="admin", client_id="cl_5e6fadmin0login", name="NHS England ARRS team")


async def test_catalogue_changes_record_the_display_name(roles_app: FastAPI, roles_db_url: str) -> None:
    texts: list[str] = []

    async def call(client: httpx.AsyncClient, method: str, path: str, body: object, expect: int) -> None:
        response = await client.request(method, path, json=body, headers={"If-Match": "*"})
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        texts.append(response.text)

    async with asgi_client(roles_app, principal=ADMIN) as admin:
        role = {"code": "new_role", "name": "New role", "staff_group": "clinical", "added_on": "2026-04-01"}
        await call(admin, "POST", "/v1/roles", {**role, "description": "d"}, 201)
        await call(admin, "PATCH", "/v1/roles/care_coordinator", {"description": "Edited"}, 200)
        period = {
            "geography": "national",
            "effective_from": "2030-04-01",
            "annual_max_pence": 3_500_000,
            "provenance": "published",
            "source": "DES",
        }
        response = await admin.post("/v1/roles/care_coordinator/rates", json=period)
        assert response.status_code == 201, response.text
        assert response.json()["created_by"] == ADMIN.name
        share = {"effective_from": "2030-04-01", "share": "1.0", "rule": "r", "source": "DES"}
        await call(admin, "POST", "/v1/roles/care_coordinator/funding-shares", share, 201)
        cap = {"unit": "posts", "max_below_threshold": 1, "max_at_or_above_threshold": 2, "source": "DES"}
        await call(admin, "PUT", "/v1/roles/care_coordinator/caps/2030-31", cap, 201)
        supervision = {"supervisor_roles": ["GP"], "frequency": "monthly", "requirement": "r", "source": "DES"}
        await call(admin, "PUT", "/v1/roles/care_coordinator/supervision", supervision, 200)
        kpi = {"name": "k", "unit": "count", "direction": "higher_is_better", "frequency": "monthly", "measure": "m"}
        template = {"purpose": "p", "responsibilities": ["r"], "suggested_kpis": [kpi]}
        await call(admin, "PUT", "/v1/roles/care_coordinator/job-plan-template", template, 200)
        texts.append((await admin.get("/v1/roles/care_coordinator")).text)
    assert not any(ADMIN.client_id in text for text in texts)

    engine = create_engine(roles_db_url)
    try:
        with engine.connect() as conn:
            recorded: set[str] = set()
            for table in RolesBase.metadata.sorted_tables:
                for column in table.columns:
                    if column.name in ("created_by", "updated_by"):
                        recorded |= {str(v) for v in conn.execute(select(column)).scalars()}
                columns = [c for c in table.columns if isinstance(c.type, String | Text)]
                for row in conn.execute(select(*columns)) if columns else []:
                    assert not any(ADMIN.client_id in str(value) for value in row), f"{table.name}: {row}"
            assert ADMIN.name in recorded
    finally:
        engine.dispose()
