"""The catalogue's seed data, from ``arrs-roles.json`` (the reference catalogue, copied verbatim)
and ``catalogue_extras.json`` (the facts that file only holds as free text, structured).

Seeding is idempotent: a row is inserted only when its key is absent, so running it again (or on a
catalogue an admin has since extended) changes nothing.

Rate periods: every sourced period of the reference, one row per geography column, ``published``;
every ``estimated_*`` value ``estimated`` from the first day of its FY, unless a published period of
that role and geography starts within that FY. A reference period with no amount is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Table, select

from roles import rules
from roles.calendar import parse_fy
from roles.models import FundingShare, JobPlanTemplate, RatePeriod, Role, RoleCap, SupervisionRequirement

SEED_PRINCIPAL = "seed"
ESTIMATE_SOURCE = "Estimate in the reference catalogue (arrs-roles.json), not a published figure"


def _load(name: str) -> Any:
    return json.loads((resources.files("roles.seed") / name).read_text(encoding="utf-8"))


def load_reference() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = _load("arrs-roles.json")
    return data


def load_extras() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = _load("catalogue_extras.json")["roles"]
    return data


def _pence(pounds: int | float) -> int:
    # Reference amounts are whole pounds; refuse anything else rather than round silently.
    if isinstance(pounds, float) and not pounds.is_integer():
        raise ValueError(f"reference amount {pounds} is not whole pounds")
    return int(pounds) * 100


def _fy_from_label(label: str) -> str:
    """``2024/25`` → ``2024-25``."""
    return label.replace("/", "-")


def _period_note(period: dict[str, Any]) -> str | None:
    parts = []
    if period.get("annual_equivalent"):
        parts.append("annual-equivalent rate")
    if period.get("salary_component") is not None:
        parts.append(f"salary component £{period['salary_component']:,}")
    if period.get("note"):
        parts.append(str(period["note"]))
    if period.get("rule"):
        parts.append(str(period["rule"]))
    return "; ".join(parts) or None


@dataclass
class CatalogueSeed:
    roles: list[dict[str, Any]] = field(default_factory=list)
    periods: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)
    caps: list[dict[str, Any]] = field(default_factory=list)
    supervision: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)


def build_seed(
    reference: list[dict[str, Any]] | None = None, extras: dict[str, dict[str, Any]] | None = None
) -> CatalogueSeed:
    """The rows the catalogue starts with; pure (reads only the packaged files unless given data)."""
    reference = load_reference() if reference is None else reference
    extras = load_extras() if extras is None else extras
    missing = {r["code"] for r in reference} ^ set(extras)
    if missing:
        raise ValueError(f"catalogue_extras.json and arrs-roles.json disagree on roles: {sorted(missing)}")
    seed = CatalogueSeed()
    for ref in reference:
        code = ref["code"]
        extra = extras[code]
        fee = ref.get("supplier_fee") or {}
        seed.roles.append(
            {
                "code": code,
                "name": ref["name"],
                "afc_band": ref.get("afc_band"),
                "staff_group": extra["staff_group"],
                "registration": ref.get("registration"),
                "added_on": date.fromisoformat(extra["added_on"]),
                "retired_on": None,
                "description": extra["description"],
                "supplier_fee_monthly_max_pence": _pence(fee["max_gbp_per_month_per_wte"]) if fee else None,
            }
        )
        published_starts: dict[str, list[date]] = {}
        for period in ref.get("rate_periods", []):
            start = date.fromisoformat(period["effective_from"])
            for geography in rules.GEOGRAPHIES:
                amount = period.get(geography)
                if amount is None:
                    continue  # a change known, its figure not: left out
                published_starts.setdefault(geography, []).append(start)
                seed.periods.append(
                    {
                        "role_code": code,
                        "geography": geography,
                        "effective_from": start,
                        "annual_max_pence": _pence(amount),
                        "provenance": "published",
                        "source": period["source"],
                        "basis": None,
                        "note": _period_note(period),
                    }
                )
        for label, estimate in (ref.get("estimated_max_reimbursement_gbp_by_year") or {}).items():
            first, last = parse_fy(_fy_from_label(label))
            if any(first <= s <= last for s in published_starts.get("national", [])):
                continue
            seed.periods.append(
                {
                    "role_code": code,
                    "geography": "national",
                    "effective_from": first,
                    "annual_max_pence": _pence(estimate["value"]),
                    "provenance": "estimated",
                    "source": ESTIMATE_SOURCE,
                    "basis": estimate.get("basis"),
                    "note": None,
                }
            )
        for share in extra["funding_shares"]:
            seed.shares.append(
                {
                    "role_code": code,
                    "effective_from": date.fromisoformat(share["effective_from"]),
                    "share_bp": rules.share_to_bp(share["share"]),
                    "max_share_bp": rules.share_to_bp(share["max_share"]) if share.get("max_share") else None,
                    "rule": share["rule"],
                    "source": share["source"],
                }
            )
        for cap in extra["caps"]:
            parse_fy(cap["fy"])
            seed.caps.append({"role_code": code, **cap})
        supervision = extra["supervision"]
        seed.supervision.append({"role_code": code, **supervision})
        template = extra["job_plan_template"]
        seed.templates.append({"role_code": code, **template})
    return seed


def _insert_missing(
    conn: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...], stamp: dict[str, Any]
) -> int:
    columns = [table.c[k] for k in key]
    existing = {tuple(r) for r in conn.execute(select(*columns))}
    new = [{**row, **stamp} for row in rows if tuple(row[k] for k in key) not in existing]
    if new:
        conn.execute(table.insert(), new)
    return len(new)


def model_tables() -> dict[str, Table]:
    return {
        "role": Role.__table__,  # type: ignore[attr-defined]
        "rate_period": RatePeriod.__table__,  # type: ignore[attr-defined]
        "funding_share": FundingShare.__table__,  # type: ignore[attr-defined]
        "role_cap": RoleCap.__table__,  # type: ignore[attr-defined]
        "supervision": SupervisionRequirement.__table__,  # type: ignore[attr-defined]
        "template": JobPlanTemplate.__table__,  # type: ignore[attr-defined]
    }


def apply_seed(conn: Connection, tables: Mapping[str, Table] | None = None) -> dict[str, int]:
    """Insert what is missing of the seed; answers how many rows of each kind were added.

    ``tables`` lets a migration write through the table shapes of its own revision, so later
    model changes never break an old migration; by default the current models are used.
    """
    seed = build_seed()
    now = datetime.now(UTC)
    created = {"created_at": now, "created_by": SEED_PRINCIPAL}
    updated = {"updated_at": now, "updated_by": SEED_PRINCIPAL}
    tables = tables or model_tables()
    return {
        "roles": _insert_missing(
            conn, tables["role"], seed.roles, ("code",), {"version": 1, "created_at": now, "updated_at": now}
        ),
        # Any period already starting that day for that role and geography (seeded, added or a
        # correction) means the seed has nothing to add there.
        "rate_periods": _insert_missing(
            conn, tables["rate_period"], seed.periods, ("role_code", "geography", "effective_from"), created
        ),
        "funding_shares": _insert_missing(
            conn, tables["funding_share"], seed.shares, ("role_code", "effective_from"), created
        ),
        "caps": _insert_missing(conn, tables["role_cap"], seed.caps, ("role_code", "fy"), updated),
        "supervision": _insert_missing(conn, tables["supervision"], seed.supervision, ("role_code",), updated),
        "templates": _insert_missing(conn, tables["template"], seed.templates, ("role_code",), updated),
    }
