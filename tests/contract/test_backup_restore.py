"""Backup and restore of every database with ``pg_dump``/``pg_restore`` on a real PostgreSQL, as the
README's runbook (Backup and restore) tells an operator to do it.

The platform (the gateway in front of the three services, each app on its own PostgreSQL database)
is given real data through the public door: organisations, API clients, allocations, posts and claims
at every stage of their life (so the ledger holds allocations, holds, approvals and payments), a rate
period, a job plan, a KPI with measurements and a readiness assessment. Then each database is dumped
(``pg_dump --format=custom``), wiped (dropped and created empty) and restored (``pg_restore``), and:

- every table holds exactly the rows it held before, and the sequences and the append-only triggers
  are back (a posting still cannot be edited);
- ``python -m budget verify-ledger`` passes on the restored budget database;
- the platform started on the restored databases answers what it answered before, and takes new
  writes (the next ids follow on), after which the ledger still verifies.

The verify command is shown to fail where it must: on a restore with a forged posting added, with a
posting's amount altered by a superuser who bypassed the append-only trigger, and on an incomplete
restore whose postings were left out.

Needs the PostgreSQL server of the other PostgreSQL tests and the ``pg_dump``/``pg_restore`` client
binaries (as new as the server): skipped with the reason on a laptop without them, a failure with
``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from arrs_kit import migrate
from arrs_kit.testing import DatabaseFactory, in_ci, postgres_server_url, require_postgres
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from tests.contract.conftest import evaluation_upstreams, make_service, roles_catalogue

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
DATABASES = ("roles", "budget", "evaluation", "gateway")
ADMIN = {"X-API-Key": "dev-admin-key"}
PCN_CODE, ICB_CODE, FY = "U24680", "QRV", "2024-25"
T = TypeVar("T")


# --- the tools ------------------------------------------------------------------------------------


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    assert match, version_text
    return int(match.group(1))


def pg_tools_unavailable_reason() -> str | None:
    """None when ``pg_dump`` and ``pg_restore`` are on the PATH and can dump the test server."""
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not on the PATH (install the PostgreSQL client, e.g. postgresql-client-15)"
    client = _major(subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True).stdout)
    engine = create_engine(postgres_server_url())
    try:
        with engine.connect() as conn:
            server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10_000
    finally:
        engine.dispose()
    if client < server:
        return f"pg_dump {client} cannot dump a PostgreSQL {server} server: install the version {server} client"
    return None


@pytest.fixture(scope="module")
def pg_tools() -> None:
    require_postgres()
    reason = pg_tools_unavailable_reason()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true makes the backup and restore tests mandatory)", pytrace=False)
    pytest.skip(f"{reason}; the backup and restore tests need them")


def libpq_url(url: str) -> str:
    """The URL as ``pg_dump``, ``pg_restore`` and ``psql`` take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}, timeout=300)


def pg_dump(url: str, archive: Path) -> None:
    done = run(["pg_dump", "--format=custom", f"--file={archive}", libpq_url(url)])
    assert done.returncode == 0, done.stderr
    assert archive.stat().st_size > 0


def pg_restore(url: str, archive: Path, *, use_list: Path | None = None) -> None:
    listing = [f"--use-list={use_list}"] if use_list else []
    done = run(
        [
            "pg_restore",
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            *listing,
            f"--dbname={libpq_url(url)}",
            str(archive),
        ]
    )
    assert done.returncode == 0, done.stderr


def verify_ledger(url: str) -> subprocess.CompletedProcess[str]:
    """The runbook's verify command, as an operator runs it."""
    return run([sys.executable, "-m", "budget", "verify-ledger"], BUDGET_DATABASE_URL=libpq_url(url))


def _admin(statement: str) -> None:
    engine = create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def wipe(url: str) -> None:
    """Drop the database and create it again, empty (from ``template0``, as ``pg_restore`` wants)."""
    name = make_url(url).database
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}" TEMPLATE template0')


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, and the database's sequences and triggers: what a restore must give back."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            state: dict[str, list[tuple[Any, ...]]] = {}
            for table in inspect(conn).get_table_names():
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
                state[table] = sorted((tuple(row) for row in rows), key=repr)
            sequences = conn.execute(text("SELECT sequencename, last_value FROM pg_sequences")).all()
            state["(sequences)"] = sorted(tuple(row) for row in sequences)
            triggers = conn.execute(
                text("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")
            ).all()
            state["(triggers)"] = sorted(tuple(row) for row in triggers)
    finally:
        engine.dispose()
    return state


def row_counts(state: dict[str, list[tuple[Any, ...]]]) -> dict[str, int]:
    return {table: len(rows) for table, rows in state.items() if not table.startswith("(")}


# --- the platform, on the four databases ---------------------------------------------------------


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on an event loop of its own (module fixtures and sync tests share none)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()  # type: ignore[arg-type]


async def on_platform(urls: dict[str, str], work: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """``work`` done through the gateway in front of the three services, all in this process on ``urls``."""
    with ExitStack() as stack:
        catalogue = stack.enter_context(roles_catalogue(urls["roles"]))
        apps = {name: make_service(name, urls[name], catalogue=catalogue) for name in ("roles", "budget")}
        budget, roles = stack.enter_context(evaluation_upstreams(catalogue, apps["budget"]))
        apps["evaluation"] = make_service("evaluation", urls["evaluation"], budget=budget, roles=roles)
        settings = GatewaySettings(
            database_url=urls["gateway"], auth_failures_per_source=1_000_000, auth_failures_allowed=1_000_000
        )
        transports = {name: httpx.ASGITransport(app=app) for name, app in apps.items()}
        gateway = create_gateway(settings, transports=transports, configure_logs=False)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gw") as client:
                return await work(client)
        finally:
            await gateway.aclose()
            for app in apps.values():
                app.state.db.dispose()


async def ok(response: Awaitable[httpx.Response], status: int = 200) -> dict[str, Any]:
    answer = await response
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json() if "json" in answer.headers.get("content-type", "") else {}
    return body


POST = {
    "pcn_code": PCN_CODE,
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "37.5",
    "start_date": "2024-04-01",
    "employment_model": "pcn_lead_practice",
    "employer_code": "R81001",
    "practice_codes": ["R81001", "R81002"],
    "supervisor": {"name": "Dr A Shah", "role": "GP partner"},
    "baseline": False,
    "display_name": "Pharmacist 1",
}
AMOUNTS = {"salary_pence": 450_000, "employer_ni_pence": 52_000, "employer_pension_pence": 65_000}


async def write_everything(gw: httpx.AsyncClient) -> None:
    """Real data in all four databases, written as clients write it."""
    await ok(gw.post("/v1/icbs", headers=ADMIN, json={"code": ICB_CODE, "name": "Riverside ICB"}), 201)
    pcn = {"code": PCN_CODE, "name": "Riverside PCN", "icb_code": ICB_CODE, "practice_codes": ["R81001", "R81002"]}
    await ok(gw.post("/v1/pcns", headers=ADMIN, json={**pcn, "list_size": 48_000, "effective_date": "2024-04-01"}), 201)
    icb_client = {"name": "QRV finance", "kind": "icb", "org_codes": [ICB_CODE]}
    icb = {"X-API-Key": (await ok(gw.post("/v1/clients", headers=ADMIN, json=icb_client), 201))["api_key"]}
    pcn_client = {"name": "Riverside PCN manager", "kind": "pcn", "org_codes": [PCN_CODE]}
    pcn_key = {"X-API-Key": (await ok(gw.post("/v1/clients", headers=ADMIN, json=pcn_client), 201))["api_key"]}
    # The ICB funds the year: a weighted population and the year's ARRS sums, and a top-up.
    population = {"weighted_population": "51234.567", "reference_date": "2024-01-01"}
    await ok(gw.put(f"/v1/pcns/{PCN_CODE}/weighted-populations/{FY}", headers=icb, json=population))
    await ok(gw.post(f"/v1/pcns/{PCN_CODE}/budgets/{FY}/allocate", headers=icb), 201)
    top_up = {"pot": "arrs", "amount_pence": 1_000_000, "reason": "Agreed top-up"}
    await ok(gw.post(f"/v1/pcns/{PCN_CODE}/budgets/{FY}/allocations", headers=icb, json=top_up), 201)
    # Two posts, and claims at every stage: paid, approved, submitted (held), rejected.
    first = (await ok(gw.post("/v1/posts", headers=pcn_key, json=POST), 201))["id"]
    second_post = {**POST, "display_name": "Pharmacist 2", "hours_per_week": "30"}
    second = (await ok(gw.post("/v1/posts", headers=pcn_key, json=second_post), 201))["id"]
    claims = {}
    for name, post_id, month in (
        ("paid", first, "2024-10"),
        ("approved", first, "2024-11"),
        ("held", second, "2024-10"),
        ("rejected", second, "2024-11"),
    ):
        draft = await ok(
            gw.post("/v1/claims", headers=pcn_key, json={"post_id": post_id, "month": month, **AMOUNTS}), 201
        )
        claims[name] = draft["id"]
        await ok(gw.post(f"/v1/claims/{draft['id']}/submit", headers=pcn_key))
    for name in ("paid", "approved"):
        await ok(gw.post(f"/v1/claims/{claims[name]}/approve", headers=icb))
    await ok(gw.post(f"/v1/claims/{claims['paid']}/pay", headers=icb, json={"payment_reference": "QRV-BACS-0001"}))
    await ok(gw.post(f"/v1/claims/{claims['rejected']}/reject", headers=icb, json={"reason": "Hours not evidenced"}))
    # The catalogue: next year's published maximum.
    rate = {
        "geography": "national",
        "effective_from": "2031-04-01",
        "annual_max_pence": 7_100_000,
        "provenance": "published",
        "source": "backup test",
    }
    await ok(gw.post("/v1/roles/clinical_pharmacist/rates", headers=ADMIN, json=rate), 201)
    # The evaluation: a job plan from its template, a KPI with four months of values, readiness.
    await ok(gw.post(f"/v1/job-plans/{first}/from-template", headers=pcn_key), 201)
    kpi = {
        "name": "Structured medication reviews completed",
        "unit": "count",
        "direction": "higher_is_better",
        "frequency": "monthly",
        "target": 40,
        "baseline": 12,
    }
    kpi_id = (await ok(gw.post(f"/v1/job-plans/{first}/kpis", headers=pcn_key, json=kpi), 201))["id"]
    values = [{"period_start": f"2024-{m:02d}-01", "value": v} for m, v in ((7, 45), (8, 41), (9, 37), (10, 20))]
    await ok(gw.post(f"/v1/kpis/{kpi_id}/measurements", headers=pcn_key, json=values))
    cells = {"cells": [{"area": "estates", "lens": "operations", "status": "in_place", "owner": "PCN manager"}]}
    await ok(gw.put(f"/v1/readiness/{PCN_CODE}", headers=pcn_key, json=cells), 201)


READS = (
    f"/v1/pcns/{PCN_CODE}/budgets/{FY}",
    f"/v1/pcns/{PCN_CODE}/ledger?fy={FY}&format=csv",
    f"/v1/claims?pcn_code={PCN_CODE}",
    "/v1/roles/clinical_pharmacist",
    "/v1/clients",
    "/v1/audit-events?limit=200",
    "/v1/job-plans/1",
    "/v1/kpis/1/measurements",
    f"/v1/readiness/{PCN_CODE}",
)


async def read_everything(gw: httpx.AsyncClient) -> dict[str, str]:
    answers = {}
    for path in READS:
        response = await gw.get(path, headers=ADMIN)
        assert response.status_code == 200, f"{path}: {response.text}"
        answers[path] = response.text
    return answers


async def write_more(gw: httpx.AsyncClient) -> list[int]:
    """New writes on restored databases: a posting, a client (its audit row), a rate period. The ids
    the ledger gives must follow on from the restored ones."""
    top_up = {"pot": "arrs", "amount_pence": 5_000, "reason": "After the restore"}
    await ok(gw.post(f"/v1/pcns/{PCN_CODE}/budgets/{FY}/allocations", headers=ADMIN, json=top_up), 201)
    client = {"name": "Restored dashboard", "kind": "dashboard", "org_codes": [ICB_CODE]}
    await ok(gw.post("/v1/clients", headers=ADMIN, json=client), 201)
    rate = {
        "geography": "national",
        "effective_from": "2032-04-01",
        "annual_max_pence": 7_200_000,
        "provenance": "published",
        "source": "after restore",
    }
    await ok(gw.post("/v1/roles/clinical_pharmacist/rates", headers=ADMIN, json=rate), 201)
    ledger = await gw.get(f"/v1/pcns/{PCN_CODE}/ledger?fy={FY}&format=csv", headers=ADMIN)
    return [int(line.split(",")[0]) for line in ledger.text.splitlines()[1:]]


# --- the backup ------------------------------------------------------------------------------------


@dataclass
class Backup:
    urls: dict[str, str]
    archives: dict[str, Path]
    before: dict[str, dict[str, list[tuple[Any, ...]]]]
    answers: dict[str, str]


@pytest.fixture(scope="module")
def backup(
    pg_tools: None, database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backup]:
    """The four databases on PostgreSQL with real data in each, and a ``pg_dump`` of each."""
    urls = {name: database_factory.create(name, "postgresql", partial(migrate.upgrade, name)) for name in DATABASES}

    async def work(gw: httpx.AsyncClient) -> dict[str, str]:
        await write_everything(gw)
        return await read_everything(gw)

    answers = in_thread(lambda: on_platform(urls, work))
    before = {name: snapshot(url) for name, url in urls.items()}
    folder = tmp_path_factory.mktemp("backups")
    archives = {name: folder / f"{name}.dump" for name in DATABASES}
    for name, url in urls.items():
        pg_dump(url, archives[name])
    yield Backup(urls, archives, before, answers)
    for url in urls.values():
        database_factory.drop(url)


def test_the_backup_holds_real_data_in_every_database(backup: Backup) -> None:
    """What the restore must bring back is not nothing: every database holds what was written."""
    counts = {name: row_counts(state) for name, state in backup.before.items()}
    assert counts["budget"]["posting"] >= 9, counts["budget"]  # 2 allocations, a top-up, holds, approvals, a payment
    assert counts["budget"]["claim"] == 4 and counts["budget"]["post"] == 2, counts["budget"]
    assert counts["budget"]["budget_balance"] == 2, counts["budget"]
    assert counts["roles"]["rate_period"] > 0 and counts["roles"]["role"] > 0, counts["roles"]
    assert counts["gateway"]["api_client"] == 2 and counts["gateway"]["audit_event"] >= 15, counts["gateway"]
    for table in ("job_plan_version", "kpi", "kpi_target", "kpi_measurement", "readiness_version", "pcn_change"):
        assert counts["evaluation"][table] >= 1, counts["evaluation"]
    for name in DATABASES:
        listing = run(["pg_restore", "--list", str(backup.archives[name])]).stdout
        tables = {t for t, rows in counts[name].items() if rows}
        dumped = set(re.findall(r"TABLE DATA public (\w+) ", listing))
        assert tables <= dumped, f"{name}: {sorted(tables - dumped)} not in the dump"


def test_every_database_is_dumped_wiped_restored_and_verified(backup: Backup) -> None:
    for name, url in backup.urls.items():
        wipe(url)
        assert row_counts(snapshot(url)) == {}, f"{name} was not wiped"
        pg_restore(url, backup.archives[name])
        after = snapshot(url)
        assert row_counts(after) == row_counts(backup.before[name]), name
        assert after == backup.before[name], f"{name}: the restored rows differ"

    verified = verify_ledger(backup.urls["budget"])
    assert verified.returncode == 0, verified.stderr
    postings = row_counts(backup.before["budget"])["posting"]
    assert f": {postings} postings agree with the balances of 2 pots" in verified.stdout, verified.stdout

    # The ledger's append-only trigger came back with the schema: a posting still cannot be edited.
    with pytest.raises(DBAPIError, match="posting rows are append-only"):
        execute(backup.urls["budget"], "UPDATE posting SET amount_pence = amount_pence + 1 WHERE id = 1")

    async def work(gw: httpx.AsyncClient) -> tuple[dict[str, str], list[int]]:
        answers = await read_everything(gw)
        return answers, await write_more(gw)

    answers, posting_ids = in_thread(lambda: on_platform(backup.urls, work))
    assert answers == backup.answers  # the platform on the restored databases answers as before
    assert posting_ids == list(range(1, postings + 2))  # the next posting follows on: sequences restored
    assert verify_ledger(backup.urls["budget"]).returncode == 0


def _restored_budget(backup: Backup, database_factory: DatabaseFactory, **options: Any) -> str:
    url = database_factory.create("restore_target", "postgresql", lambda _url: None)  # an empty database
    pg_restore(url, backup.archives["budget"], **options)
    return url


def test_verify_refuses_a_restore_with_a_forged_or_altered_posting(
    backup: Backup, database_factory: DatabaseFactory
) -> None:
    forged = _restored_budget(backup, database_factory)
    assert verify_ledger(forged).returncode == 0
    execute(
        forged,
        "INSERT INTO posting (pcn_code, fy, pot, debit_account, credit_account, amount_pence, kind, reason, "
        f"created_at, created_by) VALUES ('{PCN_CODE}', '{FY}', 'arrs', 'funding', 'available', 100000, "
        "'top_up', 'forged', now(), 'nobody')",
    )
    refused = verify_ledger(forged)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{PCN_CODE}/{FY}/arrs: maintained" in refused.stderr
    assert "ledger verification FAILED" in refused.stderr and "1 disagreement(s)" in refused.stderr
    database_factory.drop(forged)

    altered = _restored_budget(backup, database_factory)
    # A superuser can step round the append-only trigger; the verification still sees the change.
    execute(
        altered,
        "SET session_replication_role = replica",
        "UPDATE posting SET amount_pence = amount_pence + 1 WHERE id = (SELECT max(id) FROM posting)",
    )
    refused = verify_ledger(altered)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "from postings" in refused.stderr
    database_factory.drop(altered)


def test_verify_refuses_an_incomplete_restore(
    backup: Backup, database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    """A restore that lost the postings (here left out of the restore list) leaves balances the ledger
    cannot account for."""
    listing = run(["pg_restore", "--list", str(backup.archives["budget"])]).stdout
    kept = [line for line in listing.splitlines() if not re.search(r"TABLE DATA public posting ", line)]
    assert len(kept) == len(listing.splitlines()) - 1
    use_list = tmp_path / "without-postings.list"
    use_list.write_text("\n".join(kept) + "\n")
    partial_restore = _restored_budget(backup, database_factory, use_list=use_list)
    refused = verify_ledger(partial_restore)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{PCN_CODE}/{FY}/arrs: maintained" in refused.stderr and f"{PCN_CODE}/{FY}/arrs_gp" in refused.stderr
    database_factory.drop(partial_restore)


def test_verify_refuses_a_database_it_cannot_read(tmp_path: Path) -> None:
    missing = run(
        [sys.executable, "-m", "budget", "verify-ledger"], BUDGET_DATABASE_URL=f"sqlite:///{tmp_path / 'none.db'}"
    )
    assert missing.returncode == 2 and "no database" in missing.stderr, missing.stderr
    assert not (tmp_path / "none.db").exists()
