"""The client kinds the budget service still takes from the kit, with its two kind checks.

Kinds are domain, not plumbing: the gateway defines the kinds it registers (``gateway.kinds``) and
every other service its own (``roles.access``, ``evaluation.kinds``). This module stays only until the
budget service defines its ``AdminDep`` and ``ReaderDep`` and passes its kinds to
:func:`arrs_kit.app.create_service_app`; then delete it and its re-export in :mod:`arrs_kit.principal`.
Nothing new may import it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from arrs_kit.principal import Principal, kinds_allowed

KINDS = frozenset({"admin", "icb", "pcn", "practice_system", "dashboard"})
# Every kind but a practice system reads (domain.md §8). As an allow-list, a kind this module does not
# know reads nothing, as the kit's check of every kind used to ensure.
READERS = KINDS - {"practice_system"}

AdminDep = Annotated[Principal, Depends(kinds_allowed({"admin"}, "Only an admin client may do this."))]
ReaderDep = Annotated[
    Principal,
    Depends(
        kinds_allowed(READERS, "A practice-system client may only post workload and list sizes for its own practices.")
    ),
]
