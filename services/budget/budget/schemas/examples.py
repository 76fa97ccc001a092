"""Examples of the budget service's bodies, one realistic instance each (Riverside PCN, U12345, of ICB QHM),
shown in the OpenAPI document: a claim of October 2024 for a clinical pharmacist whose hours rose on
16 October (two segments), paid; its monthly return; the year's allocation. Contract tests check
each validates against its schema.
"""

from __future__ import annotations

from typing import Any

# Responses

CLAIM: dict[str, Any] = {
    "post_id": 1,
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "month": "2024-10",
    "fy": "2024-25",
    "pot": "arrs",
    "salary_pence": 460000,
    "employer_ni_pence": 52000,
    "employer_pension_pence": 65000,
    "supplier_fee_pence": 0,
    "days_in_post": 31,
    "days_in_month": 31,
    "hours_per_week": "30.00",
    "wte": "0.703226",
    "cap_pence": 385825,
    "fee_allowed_pence": 0,
    "actual_pence": 577000,
    "funding_share": "1",
    "reimbursable_pence": 385825,
    "rate_period": {
        "id": 5,
        "effective_from": "2024-10-01",
        "annual_max_pence": 6583800,
        "geography": "national",
        "provenance": "published",
        "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per ARRS role but no overall funding increase'",
    },
    "segments": [
        {
            "first_day": "2024-10-01",
            "last_day": "2024-10-15",
            "days": 15,
            "hours_per_week": "22.50",
            "wte": "0.6",
            "geography": "national",
            "afc_band": "7",
            "cap_pence": 159285,
            "rate_period": {
                "id": 5,
                "effective_from": "2024-10-01",
                "annual_max_pence": 6583800,
                "geography": "national",
                "provenance": "published",
                "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per "
                "ARRS role but no overall funding increase'",
            },
        },
        {
            "first_day": "2024-10-16",
            "last_day": "2024-10-31",
            "days": 16,
            "hours_per_week": "30.00",
            "wte": "0.8",
            "geography": "national",
            "afc_band": "7",
            "cap_pence": 226539,
            "rate_period": {
                "id": 5,
                "effective_from": "2024-10-01",
                "annual_max_pence": 6583800,
                "geography": "national",
                "provenance": "published",
                "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per "
                "ARRS role but no overall funding increase'",
            },
        },
    ],
    "estimated_rate": False,
    "id": 1,
    "kind": "claim",
    "adjusts_claim_id": None,
    "amount_pence": 385825,
    "status": "paid",
    "payment_reference": "QHM-BACS-2024-11-0042",
    "history": [
        {
            "status": "draft",
            "action": "create",
            "at": "2024-11-04T09:30:00Z",
            "by": "Riverside PCN manager",
            "reason": None,
        },
        {
            "status": "draft",
            "action": "edit",
            "at": "2024-11-04T09:42:00Z",
            "by": "Riverside PCN manager",
            "reason": None,
        },
        {
            "status": "submitted",
            "action": "submit",
            "at": "2024-11-04T09:45:00Z",
            "by": "Riverside PCN manager",
            "reason": None,
        },
        {"status": "approved", "action": "approve", "at": "2024-11-12T14:05:00Z", "by": "QHM finance", "reason": None},
        {
            "status": "paid",
            "action": "pay",
            "at": "2024-11-29T10:00:00Z",
            "by": "QHM finance",
            "reason": "QHM-BACS-2024-11-0042",
        },
    ],
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "Riverside PCN manager",
    "updated_at": "2024-11-29T10:00:00Z",
    "updated_by": "QHM finance",
}

CLAIM_PREVIEW: dict[str, Any] = {
    "post_id": 1,
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "month": "2024-10",
    "fy": "2024-25",
    "pot": "arrs",
    "salary_pence": 450000,
    "employer_ni_pence": 52000,
    "employer_pension_pence": 65000,
    "supplier_fee_pence": 0,
    "days_in_post": 31,
    "days_in_month": 31,
    "hours_per_week": "30.00",
    "wte": "0.703226",
    "cap_pence": 385825,
    "fee_allowed_pence": 0,
    "actual_pence": 567000,
    "funding_share": "1",
    "reimbursable_pence": 385825,
    "rate_period": {
        "id": 5,
        "effective_from": "2024-10-01",
        "annual_max_pence": 6583800,
        "geography": "national",
        "provenance": "published",
        "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per ARRS role but no overall funding increase'",
    },
    "segments": [
        {
            "first_day": "2024-10-01",
            "last_day": "2024-10-15",
            "days": 15,
            "hours_per_week": "22.50",
            "wte": "0.6",
            "geography": "national",
            "afc_band": "7",
            "cap_pence": 159285,
            "rate_period": {
                "id": 5,
                "effective_from": "2024-10-01",
                "annual_max_pence": 6583800,
                "geography": "national",
                "provenance": "published",
                "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per "
                "ARRS role but no overall funding increase'",
            },
        },
        {
            "first_day": "2024-10-16",
            "last_day": "2024-10-31",
            "days": 16,
            "hours_per_week": "30.00",
            "wte": "0.8",
            "geography": "national",
            "afc_band": "7",
            "cap_pence": 226539,
            "rate_period": {
                "id": 5,
                "effective_from": "2024-10-01",
                "annual_max_pence": 6583800,
                "geography": "national",
                "provenance": "published",
                "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per "
                "ARRS role but no overall funding increase'",
            },
        },
    ],
    "estimated_rate": False,
    "available_pence": 119796418,
    "fits_budget": True,
}

CLAIM_RETURN: dict[str, Any] = {
    "id": 1,
    "pcn_code": "U12345",
    "month": "2025-01",
    "fy": "2024-25",
    "payee_code": "A81001",
    "status": "paid",
    "declaration": "I declare the staff claimed for were employed as stated and are not in the baseline.",
    "declared_by": "Riverside PCN manager",
    "declared_at": "2025-02-03T11:20:00Z",
    "submitted_by": "Riverside PCN manager",
    "submitted_at": "2025-02-03T11:21:00Z",
    "payment_reference": "QHM-BACS-2025-02-0107",
    "paid_by": "QHM finance",
    "paid_at": "2025-02-27T10:00:00Z",
    "totals": {"lines": 1, "reimbursable_pence": 438920, "by_status": {"paid": 1}},
    "lines": [
        {
            "post_id": 1,
            "pcn_code": "U12345",
            "role_code": "clinical_pharmacist",
            "month": "2025-01",
            "fy": "2024-25",
            "pot": "arrs",
            "salary_pence": 450000,
            "employer_ni_pence": 52000,
            "employer_pension_pence": 65000,
            "supplier_fee_pence": 0,
            "days_in_post": 31,
            "days_in_month": 31,
            "hours_per_week": "30.00",
            "wte": "0.8",
            "cap_pence": 438920,
            "fee_allowed_pence": 0,
            "actual_pence": 567000,
            "funding_share": "1",
            "reimbursable_pence": 438920,
            "rate_period": {
                "id": 5,
                "effective_from": "2024-10-01",
                "annual_max_pence": 6583800,
                "geography": "national",
                "provenance": "published",
                "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more per ARRS "
                "role but no overall funding increase'",
            },
            "segments": [
                {
                    "first_day": "2025-01-01",
                    "last_day": "2025-01-31",
                    "days": 31,
                    "hours_per_week": "30.00",
                    "wte": "0.8",
                    "geography": "national",
                    "afc_band": "7",
                    "cap_pence": 438920,
                    "rate_period": {
                        "id": 5,
                        "effective_from": "2024-10-01",
                        "annual_max_pence": 6583800,
                        "geography": "national",
                        "provenance": "published",
                        "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim "
                        "more per ARRS role but no overall funding "
                        "increase'",
                    },
                }
            ],
            "estimated_rate": False,
            "id": 5,
            "kind": "claim",
            "adjusts_claim_id": None,
            "amount_pence": 438920,
            "status": "paid",
            "payment_reference": "QHM-BACS-2025-02-0107",
            "history": [
                {
                    "status": "draft",
                    "action": "create",
                    "at": "2025-02-03T10:55:00Z",
                    "by": "Riverside PCN manager",
                    "reason": None,
                },
                {
                    "status": "submitted",
                    "action": "submit",
                    "at": "2025-02-03T11:21:00Z",
                    "by": "Riverside PCN manager",
                    "reason": None,
                },
                {
                    "status": "approved",
                    "action": "approve",
                    "at": "2025-02-20T15:10:00Z",
                    "by": "QHM finance",
                    "reason": None,
                },
                {
                    "status": "paid",
                    "action": "pay",
                    "at": "2025-02-27T10:00:00Z",
                    "by": "QHM finance",
                    "reason": "QHM-BACS-2025-02-0107",
                },
            ],
            "created_at": "2025-02-03T10:55:00Z",
            "created_by": "Riverside PCN manager",
            "updated_at": "2025-02-27T10:00:00Z",
            "updated_by": "QHM finance",
        }
    ],
    "created_at": "2025-02-03T11:00:00Z",
    "created_by": "Riverside PCN manager",
    "updated_at": "2025-02-27T10:00:00Z",
    "updated_by": "QHM finance",
}

ALLOCATE_RESULT: dict[str, Any] = {
    "pcn_code": "U12345",
    "fy": "2024-25",
    "weighted_population": "51234.567",
    "reference_date": "2024-01-01",
    "sums": [
        {"pot": "arrs", "rate_per_weighted_patient": "22.894", "sum_pence": 117296418},
        {"pot": "arrs_gp", "rate_per_weighted_patient": "1.303", "sum_pence": 6675864},
    ],
    "pots": [
        {
            "pot": "arrs",
            "allocated_pence": 117296418,
            "held_pence": 0,
            "approved_pence": 0,
            "paid_pence": 0,
            "lapsed_pence": 0,
            "available_pence": 117296418,
        },
        {
            "pot": "arrs_gp",
            "allocated_pence": 6675864,
            "held_pence": 0,
            "approved_pence": 0,
            "paid_pence": 0,
            "lapsed_pence": 0,
            "available_pence": 6675864,
        },
    ],
}

ALLOCATION: dict[str, Any] = {
    "posting": {
        "id": 3,
        "pcn_code": "U12345",
        "fy": "2024-25",
        "pot": "arrs",
        "debit_account": "funding",
        "credit_account": "available",
        "amount_pence": 2500000,
        "kind": "top_up",
        "reason": "In-year top-up agreed by the ICB",
        "reference": None,
        "request_id": "8523772e11914c0ba03503523b07557d",
        "created_at": "2024-11-04T09:30:00Z",
        "created_by": "QHM finance",
    },
    "budget": {
        "pcn_code": "U12345",
        "fy": "2024-25",
        "pots": [
            {
                "pot": "arrs",
                "allocated_pence": 119796418,
                "held_pence": 0,
                "approved_pence": 0,
                "paid_pence": 0,
                "lapsed_pence": 0,
                "available_pence": 119796418,
            },
            {
                "pot": "arrs_gp",
                "allocated_pence": 6675864,
                "held_pence": 0,
                "approved_pence": 0,
                "paid_pence": 0,
                "lapsed_pence": 0,
                "available_pence": 6675864,
            },
        ],
    },
}

FUNDING_RATE: dict[str, Any] = {
    "fy": "2024-25",
    "arrs_per_weighted_patient": "22.894",
    "arrs_gp_per_weighted_patient": "1.303",
    "source": "Pulse Sep 2024; NHS England PRN01475 (GP sum covers 1 Oct 2024 - 31 Mar 2025, about GBP 82",
    "updated_at": "2024-11-04T09:30:00Z",
    "updated_by": "seed",
}

ICB: dict[str, Any] = {
    "code": "QHM",
    "name": "North East and North Cumbria",
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "bootstrap-admin",
}

PCN: dict[str, Any] = {
    "code": "U12345",
    "name": "Riverside PCN",
    "icb_code": "QHM",
    "icb_name": "North East and North Cumbria",
    "list_size": 52000,
    "practice_codes": ["A81001", "A81002"],
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "bootstrap-admin",
    "updated_at": "2024-11-04T09:30:00Z",
    "updated_by": "bootstrap-admin",
    "practices": [
        {"practice_code": "A81001", "valid_from": "2024-04-01"},
        {"practice_code": "A81002", "valid_from": "2024-04-01"},
    ],
    "membership_history": [
        {
            "practice_code": "A81001",
            "valid_from": "2024-04-01",
            "valid_to": None,
            "opened_by": "bootstrap-admin",
            "closed_by": None,
        },
        {
            "practice_code": "A81002",
            "valid_from": "2024-04-01",
            "valid_to": None,
            "opened_by": "bootstrap-admin",
            "closed_by": None,
        },
    ],
    "weighted_populations": [],
}

POST: dict[str, Any] = {
    "id": 1,
    "pcn_code": "U12345",
    "role_code": "clinical_pharmacist",
    "afc_band": "7",
    "geography": "national",
    "hours_per_week": "30.00",
    "wte": "0.8000",
    "start_date": "2024-04-01",
    "leave_date": None,
    "employment_model": "pcn_lead_practice",
    "employer_code": "A81001",
    "practice_codes": ["A81001", "A81002"],
    "supervisor": {"name": "Dr A Smith", "role": "GP partner"},
    "baseline": False,
    "funding_share": None,
    "staff_reference": "HR-101",
    "display_name": "Clinical pharmacist (SMR lead)",
    "unfunded_costs_monthly_pence": {
        "management_fee": 0,
        "vat": 0,
        "supervision": 0,
        "training": 0,
        "estates": 0,
        "other": 0,
    },
    "terms": [
        {
            "effective_from": "2024-04-01",
            "effective_to": "2024-10-15",
            "hours_per_week": "22.50",
            "wte": "0.6000",
            "afc_band": "7",
            "geography": "national",
            "employment_model": "pcn_lead_practice",
            "employer_code": "A81001",
            "practice_codes": ["A81001", "A81002"],
            "reason": None,
            "created_at": "2024-11-04T09:30:00Z",
            "created_by": "Riverside PCN manager",
        },
        {
            "effective_from": "2024-10-16",
            "effective_to": None,
            "hours_per_week": "30.00",
            "wte": "0.8000",
            "afc_band": "7",
            "geography": "national",
            "employment_model": "pcn_lead_practice",
            "employer_code": "A81001",
            "practice_codes": ["A81001", "A81002"],
            "reason": "Hours increased from 16 October",
            "created_at": "2024-11-04T09:30:00Z",
            "created_by": "Riverside PCN manager",
        },
    ],
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "Riverside PCN manager",
    "updated_at": "2024-11-04T09:30:00Z",
    "updated_by": "Riverside PCN manager",
}

WEIGHTED_POPULATION: dict[str, Any] = {
    "pcn_code": "U12345",
    "fy": "2024-25",
    "weighted_population": "51234.567",
    "reference_date": "2024-01-01",
    "list_size": 52000,
    "set_at": "2024-11-04T09:30:00Z",
    "set_by": "QHM finance",
    "history": [],
}

WORKFORCE_PLAN: dict[str, Any] = {
    "pcn_code": "U12345",
    "fy": "2025-26",
    "version": 1,
    "lines": [
        {"role_code": "clinical_pharmacist", "planned_wte": "1.50", "phase": 1, "start_month": "2025-04", "note": None},
        {
            "role_code": "first_contact_physiotherapist",
            "planned_wte": "1.00",
            "phase": 2,
            "start_month": "2025-10",
            "note": None,
        },
    ],
    "as_of": "2026-03-31",
    "comparison": [
        {
            "role_code": "clinical_pharmacist",
            "planned_wte": "1.5000",
            "planned_wte_due": "1.5000",
            "phases": [1],
            "first_start_month": "2025-04",
            "posts_in_fy": 1,
            "in_post_wte": "0.8000",
            "in_post_wte_as_of": "0.8000",
            "claimed_month": None,
            "claimed_wte": "0.0000",
            "claimed_pence": 0,
            "gap_wte": "0.7000",
            "due_gap_wte": "0.7000",
            "claim_gap_wte": "0.8000",
            "status": "behind_plan",
        },
        {
            "role_code": "first_contact_physiotherapist",
            "planned_wte": "1.0000",
            "planned_wte_due": "1.0000",
            "phases": [2],
            "first_start_month": "2025-10",
            "posts_in_fy": 1,
            "in_post_wte": "1.0000",
            "in_post_wte_as_of": "1.0000",
            "claimed_month": None,
            "claimed_wte": "0.0000",
            "claimed_pence": 0,
            "gap_wte": "0.0000",
            "due_gap_wte": "0.0000",
            "claim_gap_wte": "1.0000",
            "status": "on_plan",
        },
    ],
    "created_at": "2024-11-04T09:30:00Z",
    "created_by": "Riverside PCN manager",
    "updated_at": "2024-11-04T09:30:00Z",
    "updated_by": "Riverside PCN manager",
    "history": [],
}

YEAR_CLOSE: dict[str, Any] = {
    "pcn_code": "U12345",
    "fy": "2021-22",
    "closed_at": "2024-11-04T09:30:00Z",
    "closed_by": "QHM finance",
    "claim_window_ended_on": "2022-06-30",
    "lapsed": [],
    "pots": [],
}

UPLIFT: dict[str, Any] = {
    "pcn_code": "U12345",
    "fy": "2024-25",
    "rate_period": {
        "id": 354,
        "effective_from": "2024-10-01",
        "annual_max_pence": 6700000,
        "geography": "national",
        "provenance": "published",
        "source": "Illustrative uplift letter, backdated to 1 October 2024",
    },
    "supersedes_id": 5,
    "applied": False,
    "lines": [
        {
            "claim_id": 1,
            "post_id": 1,
            "month": "2024-10",
            "outcome": "no-difference",
            "before": {
                "rate_period": {
                    "id": 5,
                    "effective_from": "2024-10-01",
                    "annual_max_pence": 6583800,
                    "geography": "national",
                    "provenance": "published",
                    "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more "
                    "per ARRS role but no overall funding increase'",
                },
                "cap_pence": 385825,
                "reimbursable_pence": 305000,
            },
            "after": {
                "rate_period": {
                    "id": 354,
                    "effective_from": "2024-10-01",
                    "annual_max_pence": 6700000,
                    "geography": "national",
                    "provenance": "published",
                    "source": "Illustrative uplift letter, backdated to 1 October 2024",
                },
                "cap_pence": 392634,
                "reimbursable_pence": 305000,
            },
            "difference_pence": 0,
            "adjustment_id": None,
        },
        {
            "claim_id": 5,
            "post_id": 1,
            "month": "2025-01",
            "outcome": "adjust",
            "before": {
                "rate_period": {
                    "id": 5,
                    "effective_from": "2024-10-01",
                    "annual_max_pence": 6583800,
                    "geography": "national",
                    "provenance": "published",
                    "source": "The Pharmacist Sep/Oct 2024 'PCNs can claim more "
                    "per ARRS role but no overall funding increase'",
                },
                "cap_pence": 438920,
                "reimbursable_pence": 438920,
            },
            "after": {
                "rate_period": {
                    "id": 354,
                    "effective_from": "2024-10-01",
                    "annual_max_pence": 6700000,
                    "geography": "national",
                    "provenance": "published",
                    "source": "Illustrative uplift letter, backdated to 1 October 2024",
                },
                "cap_pence": 446667,
                "reimbursable_pence": 446667,
            },
            "difference_pence": 7747,
            "adjustment_id": None,
        },
    ],
    "total_difference_pence": 7747,
    "not_confirmed_claim_ids": [],
}


# Requests

CLAIM_UPDATE: dict[str, Any] = {"salary_pence": 460000}

ADJUSTMENT_CREATE: dict[str, Any] = {
    "salary_pence": 250000,
    "employer_ni_pence": 25000,
    "employer_pension_pence": 30000,
    "reason": "Salary overstated in October",
}

CLAIM_PAY: dict[str, Any] = {"payment_reference": "QHM-BACS-2024-11-0042"}

CLAIM_REJECT: dict[str, Any] = {"reason": "Hours do not match the contract"}

CLAIM_WITHDRAW: dict[str, Any] = {"reason": "Entered twice"}

RETURN_LINES_APPROVE: dict[str, Any] = {"claim_ids": [5]}

RETURN_LINES_REJECT: dict[str, Any] = {"claim_ids": [6], "reason": "Hours do not match the contract"}

RETURN_PAY: dict[str, Any] = {"payment_reference": "QHM-BACS-2025-02-0107"}
