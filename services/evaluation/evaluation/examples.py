"""Examples of the evaluation service's bodies, one realistic instance each (Riverside PCN, U12345),
shown in the OpenAPI document. Contract tests check each validates against its schema.
"""

from __future__ import annotations

from typing import Any

# Requests

JOB_PLAN_BODY: dict[str, Any] = {
    "purpose": "Takes medicines-related work off GPs and reduces medicines harm.",
    "responsibilities": ["Structured medication reviews for prioritised patients"],
    "practice_codes": ["A81001"],
    "sessions": [{"day": "mon", "part": "am", "practice_code": "A81001", "activity": "SMR clinic"}],
    "accountable": {"name": "Dr J Patel", "role": "Clinical director"},
    "supporting": [{"name": "S Green", "role": "PCN manager"}],
    "expected_outcomes": ["Fewer medication queries reaching GPs"],
    "measurement_frequency": "monthly",
    "measurement_method": "Appointments data and the practice's query log.",
    "supervision": {"supervisor": {"name": "Dr A Smith", "role": "GP partner"}, "frequency": "monthly"},
}

# Responses

JOB_PLAN: dict[str, Any] = {
    **JOB_PLAN_BODY,
    "supervision": {
        **JOB_PLAN_BODY["supervision"],
        "arrangement": "Monthly one-to-one; a GP on call for clinical queries.",
    },
    "post_id": 1,
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "version": 1,
    "complete": True,
    "unanswered": [],
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "Riverside PCN manager",
}

JOB_PLAN_FROM_TEMPLATE: dict[str, Any] = {
    "job_plan": {
        "purpose": "Takes musculoskeletal consultations away from GPs and gets patients "
        "assessed, treated or referred sooner.",
        "responsibilities": [
            "Assessing and diagnosing musculoskeletal problems booked directly or through triage",
            "Advising on self-management and exercise",
        ],
        "practice_codes": ["A81001", "A81002"],
        "sessions": [],
        "accountable": None,
        "supporting": [],
        "expected_outcomes": ["Patients managed without GP review", "Musculoskeletal appointments per week"],
        "measurement_frequency": "monthly",
        "measurement_method": None,
        "supervision": {
            "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
            "frequency": None,
            "arrangement": "No national supervision rule was found for this "
            "role; agree a named clinical supervisor and "
            "supervision frequency locally.",
        },
        "post_id": 2,
        "pcn_code": "U12345",
        "role_code": "first_contact_physiotherapist",
        "version": 1,
        "complete": False,
        "unanswered": ["people", "supervision"],
        "created_at": "2024-11-04T09:30:00Z",
        "created_by": "Riverside PCN manager",
    },
    "suggested_kpis": [
        {
            "name": "Patients managed without GP review",
            "unit": "percent",
            "direction": "higher_is_better",
            "frequency": "monthly",
            "suggested_target": None,
            "measure": "Share of patients seen by the post holder in the month with no GP "
            "appointment in the 28 days after their first contact practitioner "
            "appointment.",
        },
        {
            "name": "Musculoskeletal appointments per week",
            "unit": "count",
            "direction": "higher_is_better",
            "frequency": "weekly",
            "suggested_target": None,
            "measure": "Number of attended appointments recorded against the post holder in the week.",
        },
    ],
}

KPI: dict[str, Any] = {
    "id": 1,
    "post_id": 1,
    "pcn_code": "U12345",
    "name": "Structured medication reviews completed",
    "unit": "count",
    "direction": "higher_is_better",
    "frequency": "monthly",
    "target": "45",
    "targets": [
        {
            "effective_from": "2000-01-01",
            "target": "40",
            "set_at": "2024-11-04T09:30:00Z",
            "set_by": "Riverside PCN manager",
        },
        {
            "effective_from": "2025-04-01",
            "target": "45",
            "set_at": "2024-11-04T09:30:00Z",
            "set_by": "Riverside PCN manager",
        },
    ],
    "baseline": "12",
    "measure": "SMRs coded in the clinical system",
    "status": "active",
    "retired_on": None,
    "retired_reason": None,
    "version": 2,
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "Riverside PCN manager",
    "updated_at": "2024-11-04T09:30:00Z",
    "updated_by": "Riverside PCN manager",
}

MEASUREMENT_RESULT: dict[str, Any] = {"received": 2, "inserted": 2, "replaced": 0}

UPLOAD_RESULT: dict[str, Any] = {"received": 1, "inserted": 1, "replaced": 0}

READINESS: dict[str, Any] = {
    "pcn_code": "U12345",
    "version": 1,
    "cells": [
        {
            "area": "supervision_and_training",
            "lens": "workforce",
            "status": "in_progress",
            "owner": "Clinical director",
            "due_date": "2025-06-30",
            "note": "Two GP supervisors agreed; rota to follow.",
            "overdue": True,
        },
        {
            "area": "supervision_and_training",
            "lens": "operations",
            "status": "not_started",
            "owner": None,
            "due_date": None,
            "note": None,
            "overdue": False,
        },
    ],
    "summary": {"in_place": 0, "in_progress": 1, "not_started": 35, "overdue": 1, "percent_in_place": "0.0"},
    "by_area": {
        "supervision_and_training": {
            "in_place": 0,
            "in_progress": 1,
            "not_started": 3,
            "overdue": 1,
            "percent_in_place": "0.0",
        },
        "line_management": {"in_place": 0, "in_progress": 0, "not_started": 4, "overdue": 0, "percent_in_place": "0.0"},
        "estates": {"in_place": 0, "in_progress": 0, "not_started": 4, "overdue": 0, "percent_in_place": "0.0"},
        "equipment_and_it": {
            "in_place": 0,
            "in_progress": 0,
            "not_started": 4,
            "overdue": 0,
            "percent_in_place": "0.0",
        },
        "employment_model": {
            "in_place": 0,
            "in_progress": 0,
            "not_started": 4,
            "overdue": 0,
            "percent_in_place": "0.0",
        },
        "hr_administration": {
            "in_place": 0,
            "in_progress": 0,
            "not_started": 4,
            "overdue": 0,
            "percent_in_place": "0.0",
        },
        "rostering_and_mdt_working": {
            "in_place": 0,
            "in_progress": 0,
            "not_started": 4,
            "overdue": 0,
            "percent_in_place": "0.0",
        },
        "quality_and_governance": {
            "in_place": 0,
            "in_progress": 0,
            "not_started": 4,
            "overdue": 0,
            "percent_in_place": "0.0",
        },
        "financial_management": {
            "in_place": 0,
            "in_progress": 0,
            "not_started": 4,
            "overdue": 0,
            "percent_in_place": "0.0",
        },
    },
    "recorded_at": "2024-11-04T09:30:00Z",
    "recorded_by": "Riverside PCN manager",
}


# Requests

KPI_UPDATE: dict[str, Any] = {"target": "45", "target_effective_from": "2025-04-01"}

KPI_RETIRE: dict[str, Any] = {"reason": "Replaced by a KPI for discharge reconciliations"}

MEASUREMENTS: list[dict[str, Any]] = [
    {"period_start": "2024-10-01", "value": "34"},
    {"period_start": "2024-11-01", "value": "41"},
]

WORKLOAD_RECORDS: list[dict[str, Any]] = [
    {
        "practice_code": "A81001",
        "grain": "week",
        "period_start": "2024-10-07",
        "hcp_role": "gp",
        "national_category": "general_consultation_routine",
        "mode": "face_to_face",
        "status": "attended",
        "appointments": 120,
        "minutes": 1200,
    }
]

LIST_SIZE_RECORDS: list[dict[str, Any]] = [
    {"practice_code": "A81001", "month": "2024-10", "registered_patients": 10432}
]
