"""Who may do what in the role catalogue (domain.md §8): the kinds of client the gateway vouches for,
and the catalogue's two rules, as dependencies: an admin changes it, every kind but a practice system
reads it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from arrs_kit.principal import Principal, kinds_allowed

ADMIN = "admin"
KINDS = frozenset({ADMIN, "icb", "pcn", "practice_system", "dashboard"})
READERS = KINDS - {"practice_system"}

AdminDep = Annotated[Principal, Depends(kinds_allowed({ADMIN}, "Only an admin client may do this."))]
ReaderDep = Annotated[
    Principal,
    Depends(
        kinds_allowed(READERS, "A practice-system client may only post workload and list sizes for its own practices.")
    ),
]
