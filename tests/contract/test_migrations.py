"""Every service's migrations: one head, empty → head → base → head, and the models match (alembic check)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory

SERVICES = ["roles", "budget", "evaluation", "gateway"]


@pytest.mark.parametrize("service", SERVICES)
def test_exactly_one_head(service: str) -> None:
    assert len(migrate.heads(service)) == 1


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_downgrade_upgrade_and_check(database_factory: DatabaseFactory, backend: str, service: str) -> None:
    url = database_factory.create(f"empty_{service}", backend, lambda _url: None)
    try:
        assert tables(url) == set()
        migrate.upgrade(service, url)
        migrate.check(service, url)  # raises when models and migrations disagree
        created = tables(url)
        migrate.downgrade(service, url, "base")
        assert tables(url) == set()
        migrate.upgrade(service, url)
        assert tables(url) == created
    finally:
        database_factory.drop(url)


def test_roles_head_has_the_catalogue(database_factory: DatabaseFactory, backend: str) -> None:
    url = database_factory.create("empty_roles_seed", backend, lambda _url: None)
    try:
        migrate.upgrade("roles", url)
        assert {
            "role",
            "rate_period",
            "funding_share",
            "role_cap",
            "supervision_requirement",
            "job_plan_template",
        } <= tables(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM role").scalar_one() == 26
        engine.dispose()
    finally:
        database_factory.drop(url)
