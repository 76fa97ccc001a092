"""The change counters (:mod:`evaluation.changes`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String
from sqlmodel import Field

from evaluation.models import EvaluationBase


class PcnChange(EvaluationBase, table=True):
    """How many committed writes have changed a PCN's job plans, KPIs, targets, measurements or
    readiness. A PCN with no row has had none (counter 0)."""

    __tablename__ = "pcn_change"

    pcn_code: str = Field(sa_column=Column(String(6), primary_key=True))
    changes: int = Field(sa_column=Column(BigInteger, nullable=False))


class DataChange(EvaluationBase, table=True):
    """How many committed uploads have changed a kind of bulk data the analyses read (``workload``:
    workload records and list sizes). A subject with no row has had none (counter 0)."""

    __tablename__ = "data_change"

    subject: str = Field(sa_column=Column(String(32), primary_key=True))
    changes: int = Field(sa_column=Column(BigInteger, nullable=False))
