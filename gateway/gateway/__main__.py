"""``python -m gateway migrate``: bring the gateway's database (API clients, audit log) to head."""

from __future__ import annotations

import argparse

from arrs_kit import migrate
from gateway.config import GatewaySettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args()
    migrate.upgrade("gateway", GatewaySettings().database_url)


if __name__ == "__main__":
    main()
