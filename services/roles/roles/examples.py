"""Examples of the roles service's bodies, one realistic instance each, shown in the OpenAPI document:
a role added to the catalogue (an illustrative speech and language therapist) with its estimated rate,
funding share, cap, supervision and job-plan template. Contract tests check each validates against its
schema.
"""

from __future__ import annotations

from typing import Any

# Responses

ROLE: dict[str, Any] = {
    "name": "Speech and language therapist",
    "afc_band": "7",
    "staff_group": "clinical",
    "registration": "HCPC",
    "added_on": "2026-04-01",
    "retired_on": None,
    "description": "Assesses and treats adults with communication and swallowing difficulties, and "
    "trains practice staff.",
    "supplier_fee_monthly_max_pence": None,
    "code": "speech_and_language_therapist",
    "rate_periods": [
        {
            "id": 355,
            "role_code": "speech_and_language_therapist",
            "geography": "national",
            "afc_band": None,
            "effective_from": "2026-04-01",
            "effective_to": None,
            "annual_max_pence": 5575600,
            "provenance": "estimated",
            "source": "AfC band 7 2026/27 with on-costs",
            "basis": "Band 7 as for a clinical pharmacist",
            "note": None,
            "status": "current",
            "supersedes_id": None,
            "superseded_by_id": None,
            "created_at": "2024-11-04T09:30:00Z",
            "created_by": "bootstrap-admin",
        }
    ],
    "funding_shares": [
        {
            "effective_from": "2026-04-01",
            "share": "1.0",
            "max_share": None,
            "rule": "Reimbursed in full up to the maximum rate",
            "source": "Network Contract DES 2026/27",
        }
    ],
    "caps": [
        {
            "fy": "2026-27",
            "unit": "wte",
            "max_below_threshold": 1,
            "max_at_or_above_threshold": 2,
            "list_size_threshold": 100000,
            "source": "Network Contract DES 2026/27",
        }
    ],
    "supervision": {
        "supervisor_roles": ["GP", "Senior speech and language therapist"],
        "frequency": "monthly",
        "requirement": "Clinical supervision at least monthly.",
        "source": "Network Contract DES 2026/27",
    },
}

RATE_PERIOD: dict[str, Any] = {
    "id": 355,
    "role_code": "speech_and_language_therapist",
    "geography": "national",
    "afc_band": None,
    "effective_from": "2026-04-01",
    "effective_to": None,
    "annual_max_pence": 5575600,
    "provenance": "estimated",
    "source": "AfC band 7 2026/27 with on-costs",
    "basis": "Band 7 as for a clinical pharmacist",
    "note": None,
    "status": "current",
    "supersedes_id": None,
    "superseded_by_id": None,
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "bootstrap-admin",
}

FUNDING_SHARE: dict[str, Any] = {
    "effective_from": "2026-04-01",
    "share": "1.0",
    "max_share": None,
    "rule": "Reimbursed in full up to the maximum rate",
    "source": "Network Contract DES 2026/27",
}

CAP: dict[str, Any] = {
    "fy": "2026-27",
    "unit": "wte",
    "max_below_threshold": 1,
    "max_at_or_above_threshold": 2,
    "list_size_threshold": 100000,
    "source": "Network Contract DES 2026/27",
}

SUPERVISION: dict[str, Any] = {
    "supervisor_roles": ["GP", "Senior speech and language therapist"],
    "frequency": "monthly",
    "requirement": "Clinical supervision at least monthly.",
    "source": "Network Contract DES 2026/27",
}

JOB_PLAN_TEMPLATE: dict[str, Any] = {
    "role_code": "speech_and_language_therapist",
    "purpose": "Takes communication and swallowing work off GPs.",
    "responsibilities": ["Swallowing assessments for care home residents", "Communication support after stroke"],
    "sessions_per_week_hint": 9,
    "suggested_kpis": [
        {
            "name": "Swallowing assessments completed",
            "unit": "count",
            "direction": "higher_is_better",
            "frequency": "monthly",
            "suggested_target": 30.0,
            "measure": "Assessments coded in the clinical system",
        }
    ],
    "supervision": {
        "supervisor_roles": ["GP", "Senior speech and language therapist"],
        "frequency": "monthly",
        "requirement": "Clinical supervision at least monthly.",
        "source": "Network Contract DES 2026/27",
    },
}

RATE_IMPORT_RESULT: dict[str, Any] = {
    "rows": 1,
    "created": 1,
    "superseded": 0,
    "unchanged": 0,
    "periods": [{"row": 1, "outcome": "created", "rate_period_id": 356, "supersedes_id": None}],
}


# Requests

ROLE_CREATE: dict[str, Any] = {
    "code": "speech_and_language_therapist",
    "name": "Speech and language therapist",
    "afc_band": "7",
    "staff_group": "clinical",
    "registration": "HCPC",
    "added_on": "2026-04-01",
    "description": "Assesses and treats adults with communication and swallowing difficulties in primary care.",
}

ROLE_UPDATE: dict[str, Any] = {
    "description": "Assesses and treats adults with communication and swallowing difficulties, and "
    "trains practice staff."
}

RATE_PERIOD_CREATE: dict[str, Any] = {
    "geography": "national",
    "effective_from": "2026-04-01",
    "annual_max_pence": 5575600,
    "provenance": "estimated",
    "source": "AfC band 7 2026/27 with on-costs",
    "basis": "Band 7 as for a clinical pharmacist",
}

FUNDING_SHARE_CREATE: dict[str, Any] = {
    "effective_from": "2026-04-01",
    "share": "1",
    "rule": "Reimbursed in full up to the maximum rate",
    "source": "Network Contract DES 2026/27",
}

CAP_UPSERT: dict[str, Any] = {
    "unit": "wte",
    "max_below_threshold": 1,
    "max_at_or_above_threshold": 2,
    "list_size_threshold": 100000,
    "source": "Network Contract DES 2026/27",
}

SUPERVISION_UPSERT: dict[str, Any] = {
    "supervisor_roles": ["GP", "Senior speech and language therapist"],
    "frequency": "monthly",
    "requirement": "Clinical supervision at least monthly.",
    "source": "Network Contract DES 2026/27",
}

JOB_PLAN_TEMPLATE_UPSERT: dict[str, Any] = {
    "purpose": "Takes communication and swallowing work off GPs.",
    "responsibilities": ["Swallowing assessments for care home residents", "Communication support after stroke"],
    "sessions_per_week_hint": 9,
    "suggested_kpis": [
        {
            "name": "Swallowing assessments completed",
            "unit": "count",
            "direction": "higher_is_better",
            "frequency": "monthly",
            "suggested_target": 30,
            "measure": "Assessments coded in the clinical system",
        }
    ],
}
