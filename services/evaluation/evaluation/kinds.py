"""The kinds of client the gateway vouches for, as the evaluation service knows them (domain.md §8),
and who among them does what here. Pure, no I/O: the dependencies that apply them are in
:mod:`evaluation.access`."""

from __future__ import annotations

from arrs_kit.principal import Principal

ADMIN = "admin"
ICB = "icb"
PCN = "pcn"
PRACTICE_SYSTEM = "practice_system"
DASHBOARD = "dashboard"
KINDS = frozenset({ADMIN, ICB, PCN, PRACTICE_SYSTEM, DASHBOARD})

READERS = KINDS - {PRACTICE_SYSTEM}  # a practice system only posts workload and list sizes
MANAGERS = frozenset({ADMIN, PCN})  # change job plans, KPIs, measurements and readiness
UPLOADERS = frozenset({ADMIN, PRACTICE_SYSTEM})  # post workload and list sizes


def is_admin(principal: Principal) -> bool:
    return principal.kind == ADMIN
