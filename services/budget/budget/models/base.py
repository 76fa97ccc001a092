"""The budget service's own metadata registry and the column helpers every table uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, DateTime, String
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from arrs_kit.idempotency import idempotency_table


class BudgetBase(SQLModel, registry=registry()):
    """Own metadata registry: the budget service's tables and nobody else's."""


metadata = BudgetBase.metadata
idempotency_keys = idempotency_table(metadata)


def ts(*, nullable: bool = False) -> Any:
    return Column(DateTime(timezone=True), nullable=nullable)


BY_MAX = 128
"""The length of the columns that record who made a change (``created_by``, ``set_by``, …)."""


def by(*, nullable: bool = False) -> Any:
    return Column(String(BY_MAX), nullable=nullable)


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK that ``column`` holds one of ``values`` (plain strings or ``StrEnum`` members)."""
    quoted = ", ".join(f"'{v!s}'" for v in values)
    return f"{column} IN ({quoted})"
