"""The budget service's own metrics, counted when their transaction commits (a rollback counts nothing)."""

from __future__ import annotations

from arrs_kit.metrics import counter

LEDGER_POSTINGS = counter(
    "arrs_budget_ledger_postings",
    "Ledger postings committed, by kind (allocation, hold, release, approve, pay, …).",
    ("kind",),
)
LEDGER_PENCE = counter(
    "arrs_budget_ledger_posted_pence",
    "Pence moved by committed ledger postings, by kind.",
    ("kind",),
)
CLAIM_TRANSITIONS = counter(
    "arrs_budget_claim_transitions",
    "Claim steps committed, by kind of claim (claim, adjustment), step taken and status reached.",
    ("kind", "action", "status"),
)
