"""Operating-plan readiness: every version of a PCN's assessment, append-only; the current one is the
highest version. The 36 cells (nine areas × four lenses) are one JSON document, read and written whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, String, UniqueConstraint
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from evaluation.models import EvaluationBase


class ReadinessVersion(EvaluationBase, table=True):
    __tablename__ = "readiness_version"
    __table_args__ = (UniqueConstraint("pcn_code", "version", name="uq_readiness_version"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    pcn_code: str = Field(sa_column=Column(String(6), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    cells: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
