"""Tables of the budget service, in its own metadata registry."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class BudgetBase(SQLModel, registry=registry()):
    """Own metadata registry: the budget service's tables and nobody else's."""


metadata = BudgetBase.metadata
