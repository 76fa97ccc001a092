"""The evaluation service's metadata registry; each feature package declares its tables on it.

:mod:`evaluation.tables` imports every feature's models, so the migrations see all of them.
"""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from arrs_kit.idempotency import idempotency_table


class EvaluationBase(SQLModel, registry=registry()):
    """Own metadata registry: the evaluation service's tables and nobody else's."""


metadata = EvaluationBase.metadata
idempotency_keys = idempotency_table(metadata)
