"""A claim return's reconciliation export (domain §6): a flat CSV, one line per employee (post), with
every input and intermediate of its claim, to reconcile with the national portal."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from sqlalchemy.orm import Session

from arrs_kit.pagination import csv_response
from budget.repository import posts as posts_repo
from budget.schemas.claim_returns import ClaimReturnPublic


def reconciliation_rows(session: Session, found: ClaimReturnPublic) -> list[dict[str, Any]]:
    posts = {p.id: p for p in posts_repo.posts_by_id(session, [line.post_id for line in found.lines])}
    rows: list[dict[str, Any]] = []
    for line in found.lines:
        post = posts[line.post_id]
        rows.append(
            {
                "return_id": found.id,
                "pcn_code": found.pcn_code,
                "payee_code": found.payee_code,
                "month": found.month,
                "claim_id": line.id,
                "status": line.status,
                "post_id": line.post_id,
                "staff_reference": post.staff_reference or "",
                "display_name": post.display_name,
                "role_code": line.role_code,
                "start_date": post.start_date.isoformat(),
                "leave_date": post.leave_date.isoformat() if post.leave_date else "",
                "hours_per_week": line.hours_per_week,
                "wte": line.wte,
                "segments": len(line.segments),
                "days_in_post": line.days_in_post,
                "days_in_month": line.days_in_month,
                "rate_geography": line.rate_period.geography,
                "rate_effective_from": line.rate_period.effective_from.isoformat(),
                "annual_max_pence": line.rate_period.annual_max_pence,
                "rate_provenance": line.rate_period.provenance,
                "salary_pence": line.salary_pence,
                "employer_ni_pence": line.employer_ni_pence,
                "employer_pension_pence": line.employer_pension_pence,
                "supplier_fee_pence": line.supplier_fee_pence,
                "fee_allowed_pence": line.fee_allowed_pence,
                "actual_pence": line.actual_pence,
                "cap_pence": line.cap_pence,
                "funding_share": line.funding_share,
                "reimbursable_pence": line.reimbursable_pence,
                "payment_reference": line.payment_reference or "",
            }
        )
    return rows


def reconciliation_csv(session: Session, found: ClaimReturnPublic) -> Response:
    return csv_response(
        reconciliation_rows(session, found), next_cursor=None, filename=f"claim-return-{found.pcn_code}-{found.month}"
    )
