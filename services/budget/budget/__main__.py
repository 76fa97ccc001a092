"""``python -m budget migrate | verify-ledger`` (the database is ``BUDGET_DATABASE_URL``).

- ``migrate``: bring the database to head.
- ``verify-ledger``: recompute every pot's balances from the ledger's postings and compare them with
  the maintained balance rows (:func:`budget.repository.ledger.verify_ledger`), reading one consistent
  snapshot and writing nothing, so it may run against a live service or a restored backup. Exits 0
  when they agree (one summary line on stdout), 1 with one line per disagreement on stderr, 2 when the
  database cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from arrs_kit import migrate
from arrs_kit.db import is_sqlite, make_engine
from budget.config import BudgetSettings
from budget.models import BudgetBalance, Posting
from budget.repository.ledger import verify_ledger

EXIT_AGREES, EXIT_DISAGREES, EXIT_UNREADABLE = 0, 1, 2


def verify(url: str) -> int:
    """Verify the ledger of the database at ``url``; answers the exit status."""
    where = make_url(url).render_as_string(hide_password=True)
    if is_sqlite(url) and not Path(make_url(url).database or "").is_file():
        # Opening it would create an empty database, which would verify.
        print(f"ledger not verified: no database at {where}", file=sys.stderr)
        return EXIT_UNREADABLE
    engine = make_engine(url, pool_size=1, max_overflow=0)
    if not is_sqlite(url):
        # Postings and balances from one snapshot: a claim posted between the two reads is no disagreement.
        engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    try:
        with Session(engine) as session:
            problems = verify_ledger(session)
            postings = session.execute(select(func.count()).select_from(Posting)).scalar_one()
            pots = session.execute(select(func.count()).select_from(BudgetBalance)).scalar_one()
            session.rollback()
    except SQLAlchemyError as exc:
        print(f"ledger not verified: cannot read {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        engine.dispose()
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"ledger verification FAILED on {where}: {len(problems)} disagreement(s)", file=sys.stderr)
        return EXIT_DISAGREES
    print(f"ledger verified on {where}: {postings} postings agree with the balances of {pots} pots")
    return EXIT_AGREES


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m budget")
    parser.add_argument("command", choices=["migrate", "verify-ledger"])
    args = parser.parse_args()
    url = BudgetSettings().database_url
    if args.command == "verify-ledger":
        sys.exit(verify(url))
    migrate.upgrade("budget", url)


if __name__ == "__main__":
    main()
