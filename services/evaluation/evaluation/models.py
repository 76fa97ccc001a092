"""Tables of the evaluation service, in its own metadata registry."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class EvaluationBase(SQLModel, registry=registry()):
    """Own metadata registry: the evaluation service's tables and nobody else's."""


metadata = EvaluationBase.metadata
