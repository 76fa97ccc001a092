"""The client kinds the budget service serves (domain.md §8): the kit verifies a signed principal only
for a kind named here (any other answers 401)."""

from __future__ import annotations

ADMIN, ICB, PCN, PRACTICE_SYSTEM, DASHBOARD = "admin", "icb", "pcn", "practice_system", "dashboard"
KINDS = frozenset({ADMIN, ICB, PCN, PRACTICE_SYSTEM, DASHBOARD})
