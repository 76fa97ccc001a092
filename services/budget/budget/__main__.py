"""``python -m budget migrate``: bring the database to head."""

from __future__ import annotations

import argparse

from arrs_kit import migrate
from budget.config import BudgetSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m budget")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args()
    migrate.upgrade("budget", BudgetSettings().database_url)


if __name__ == "__main__":
    main()
