"""Tables of workload counts and list sizes (on :data:`evaluation.models.metadata`).

- ``workload``: one row per natural key ``(practice_code, grain, period_start, hcp_role,
  national_category, mode, status)`` with ``appointments`` and ``minutes``; a later upload of the
  same key replaces the values. The primary key's order (practice, grain, period first) serves the
  reads and analyses that select a practice's (or a PCN's practices') periods.
- ``list_size``: registered patients per practice and month (the month's first day).
- ``workload_upload``: one row per accepted upload (who, when, what format, the counts); each
  workload and list-size row names the upload that last set it (``upload_id``, no foreign key:
  a check per row would slow a million-row merge for nothing the key does not already ensure).

The analyses of issue 11 are meant to read them like this (PostgreSQL):

1. GP attended appointments per practice and ISO week (the workload-shift rate's numerator), an
   index-only scan of the partial index ``ix_workload_gp_attended_week``::

       SELECT practice_code, period_start, sum(appointments) FROM workload
       WHERE grain = 'week' AND hcp_role = 'gp' AND status = 'attended'
         AND practice_code = ANY(:practices) AND period_start BETWEEN :first AND :last
       GROUP BY practice_code, period_start

2. The list size of a practice in a month (the rate's denominator), by primary key::

       SELECT practice_code, month, registered_patients FROM list_size
       WHERE practice_code = ANY(:practices) AND month BETWEEN :first AND :last

3. Appointments by role at a PCN's practices (cost per appointment, a role's own appointments per
   WTE), a range of the primary key per practice::

       SELECT hcp_role, period_start, sum(appointments) FROM workload
       WHERE practice_code = ANY(:pcn_practices) AND grain = :grain AND status = 'attended'
         AND period_start BETWEEN :first AND :last
       GROUP BY hcp_role, period_start

Codes are stored as text (readable, and joined with nothing): a national year of weekly data is
tens of millions of rows, where small-integer codes would halve the size of the table and its key;
that is the change to make if storage ever matters more than legibility.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, Index, Integer, String, text
from sqlmodel import Field

from arrs_kit.db import UtcDateTime
from evaluation.models import EvaluationBase

GP_ATTENDED_WEEKS = "grain = 'week' AND hcp_role = 'gp' AND status = 'attended'"


class Workload(EvaluationBase, table=True):
    __tablename__ = "workload"
    __table_args__ = (
        CheckConstraint("grain IN ('week', 'month')", name="ck_workload_grain"),
        CheckConstraint("appointments >= 0", name="ck_workload_appointments"),
        CheckConstraint("minutes IS NULL OR minutes >= 0", name="ck_workload_minutes"),
        Index(
            "ix_workload_gp_attended_week",
            "practice_code",
            "period_start",
            postgresql_include=["appointments"],
            postgresql_where=text(GP_ATTENDED_WEEKS),
            sqlite_where=text(GP_ATTENDED_WEEKS),
        ),
    )

    practice_code: str = Field(sa_column=Column(String(6), primary_key=True))
    grain: str = Field(sa_column=Column(String(5), primary_key=True))
    period_start: date = Field(sa_column=Column(Date, primary_key=True))
    hcp_role: str = Field(sa_column=Column(String(64), primary_key=True))
    national_category: str = Field(sa_column=Column(String(40), primary_key=True))
    mode: str = Field(sa_column=Column(String(20), primary_key=True))
    status: str = Field(sa_column=Column(String(10), primary_key=True))
    appointments: int = Field(sa_column=Column(BigInteger, nullable=False))
    minutes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    upload_id: int = Field(sa_column=Column(Integer, nullable=False))


class ListSize(EvaluationBase, table=True):
    __tablename__ = "list_size"
    __table_args__ = (CheckConstraint("registered_patients >= 0", name="ck_list_size_patients"),)

    practice_code: str = Field(sa_column=Column(String(6), primary_key=True))
    month: date = Field(sa_column=Column(Date, primary_key=True))
    registered_patients: int = Field(sa_column=Column(Integer, nullable=False))
    upload_id: int = Field(sa_column=Column(Integer, nullable=False))


class WorkloadUpload(EvaluationBase, table=True):
    __tablename__ = "workload_upload"
    __table_args__ = (
        CheckConstraint("kind IN ('workload', 'list_size')", name="ck_workload_upload_kind"),
        CheckConstraint("format IN ('json', 'ndjson', 'csv', 'gpad_csv')", name="ck_workload_upload_format"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    format: str = Field(sa_column=Column(String(10), nullable=False))
    received: int = Field(sa_column=Column(Integer, nullable=False))
    inserted: int = Field(sa_column=Column(Integer, nullable=False))
    replaced: int = Field(sa_column=Column(Integer, nullable=False))
    uploaded_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    uploaded_by: str = Field(sa_column=Column(String(200), nullable=False))
    client_id: str = Field(sa_column=Column(String(128), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
