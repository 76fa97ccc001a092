"""Tables of the budget service, one module per feature, in its own metadata registry
(:mod:`budget.models.base`). Importing this package registers every table on ``metadata``.

The alembic environment is ``migrations/`` in this package: the kit finds a service's migrations
beside its ``models`` (:func:`arrs_kit.migrate.migrations_dir`)."""

from budget.models.base import BY_MAX, BudgetBase, idempotency_keys, metadata
from budget.models.claim_returns import ClaimReturn, ReturnStatus
from budget.models.claims import LIVE_CLAIM, PENDING_ADJUSTMENT, Claim, ClaimEvent
from budget.models.ledger import ACCOUNTS, POTS, BudgetBalance, FundingRate, Posting, YearClose
from budget.models.planning import PLAN_PHASES, WorkforcePlan, WorkforcePlanHistory, WorkforcePlanLine
from budget.models.posts import COST_FIELDS, EMPLOYMENT_MODELS, GEOGRAPHIES, Post, PostTerms
from budget.models.register import (
    OPEN_MEMBERSHIP,
    Icb,
    Pcn,
    PracticeMembership,
    WeightedPopulation,
    WeightedPopulationHistory,
)

__all__ = [
    "ACCOUNTS",
    "BY_MAX",
    "COST_FIELDS",
    "EMPLOYMENT_MODELS",
    "GEOGRAPHIES",
    "LIVE_CLAIM",
    "OPEN_MEMBERSHIP",
    "PENDING_ADJUSTMENT",
    "PLAN_PHASES",
    "POTS",
    "BudgetBalance",
    "BudgetBase",
    "Claim",
    "ClaimEvent",
    "ClaimReturn",
    "FundingRate",
    "Icb",
    "Pcn",
    "Post",
    "PostTerms",
    "Posting",
    "PracticeMembership",
    "ReturnStatus",
    "WeightedPopulation",
    "WeightedPopulationHistory",
    "WorkforcePlan",
    "WorkforcePlanHistory",
    "WorkforcePlanLine",
    "YearClose",
    "idempotency_keys",
    "metadata",
]
