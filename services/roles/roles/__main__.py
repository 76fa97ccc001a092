"""``python -m roles migrate|seed``: bring the database to head (seeding on the way) or reseed."""

from __future__ import annotations

import argparse
import json

from arrs_kit import migrate
from arrs_kit.db import make_engine
from roles.config import RolesSettings
from roles.models import RatePeriod, Role
from roles.seed import apply_seed
from roles.seed.reference_rates import apply_reference_rates


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m roles")
    parser.add_argument("command", choices=["migrate", "seed"])
    args = parser.parse_args()
    settings = RolesSettings()
    migrate.upgrade("roles", settings.database_url)
    if args.command == "seed":
        engine = make_engine(settings.database_url)
        with engine.begin() as conn:
            inserted = apply_seed(conn)
            inserted["reference_rates"] = apply_reference_rates(
                conn,
                RatePeriod.__table__,  # type: ignore[attr-defined]
                Role.__table__,  # type: ignore[attr-defined]
            )
            print(json.dumps({"inserted": inserted}))
        engine.dispose()


if __name__ == "__main__":
    main()
