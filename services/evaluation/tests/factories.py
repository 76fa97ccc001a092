"""What the evaluation tests send again and again, written once: a job plan's body and a KPI's.

Test modules import it relatively (``from .factories import PLAN``): the suite imports with importlib,
which names each test module after its path."""

from __future__ import annotations

from typing import Any

PLAN: dict[str, Any] = {"purpose": "Medicines work off GPs.", "practice_codes": ["A81001"]}
"""A job plan of post 1 (or 3), for one of the practices it serves."""

KPI: dict[str, Any] = {
    "name": "Structured medication reviews completed",
    "unit": "count",
    "direction": "higher_is_better",
    "frequency": "monthly",
    "target": 40,
    "baseline": "12.5",
}
"""A monthly KPI with a target of 40 from its first period."""
