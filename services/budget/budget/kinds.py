"""The client kinds the budget service serves (domain.md §8), and its two checks by kind. The kit
verifies a signed principal only for a kind named here (any other answers 401); who may act on which
PCN, post or claim is in :mod:`budget.service.authz`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from arrs_kit.principal import Principal, kinds_allowed

ADMIN, ICB, PCN, PRACTICE_SYSTEM, DASHBOARD = "admin", "icb", "pcn", "practice_system", "dashboard"
KINDS = frozenset({ADMIN, ICB, PCN, PRACTICE_SYSTEM, DASHBOARD})
# Every kind but a practice system reads (domain.md §8); as an allow-list, so a kind added later reads
# nothing until it is named here.
READERS = KINDS - {PRACTICE_SYSTEM}

AdminDep = Annotated[Principal, Depends(kinds_allowed({ADMIN}, "Only an admin client may do this."))]
ReaderDep = Annotated[
    Principal,
    Depends(
        kinds_allowed(READERS, "A practice-system client may only post workload and list sizes for its own practices.")
    ),
]
