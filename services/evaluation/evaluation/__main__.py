"""``python -m evaluation migrate``: bring the database to head."""

from __future__ import annotations

import argparse

from arrs_kit import migrate
from evaluation.config import EvaluationSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluation")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args()
    migrate.upgrade("evaluation", EvaluationSettings().database_url)


if __name__ == "__main__":
    main()
