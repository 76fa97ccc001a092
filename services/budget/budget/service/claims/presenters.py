"""The public shapes of a claim: a stored claim with its history, and a preview."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag
from budget.domain import hours
from budget.models import Claim, ClaimEvent
from budget.repository import claims as claims_repo
from budget.schemas.claims import ClaimEventPublic, ClaimPreview, ClaimPublic, RatePeriodUsed
from budget.service.claims.compute import Computed, computation_fields


def _rate_used(claim: Claim) -> RatePeriodUsed:
    return RatePeriodUsed(
        id=claim.rate_period_id,
        effective_from=claim.rate_effective_from,
        annual_max_pence=claim.rate_annual_max_pence,
        geography=claim.rate_geography,
        provenance=claim.rate_provenance,
        source=claim.rate_source,
    )


def _common(claim: Claim) -> dict[str, object]:
    return {
        "post_id": claim.post_id,
        "pcn_code": claim.pcn_code,
        "role_code": claim.role_code,
        "month": claim.month,
        "fy": claim.fy,
        "pot": claim.pot,
        "salary_pence": claim.salary_pence,
        "employer_ni_pence": claim.employer_ni_pence,
        "employer_pension_pence": claim.employer_pension_pence,
        "supplier_fee_pence": claim.supplier_fee_pence,
        "days_in_post": claim.days_in_post,
        "days_in_month": claim.days_in_month,
        "hours_per_week": hours.centi_to_hours(claim.hours_per_week_centi),
        "wte": claim.wte,
        "cap_pence": claim.cap_pence,
        "fee_allowed_pence": claim.fee_allowed_pence,
        "actual_pence": claim.actual_pence,
        "funding_share": claim.funding_share,
        "reimbursable_pence": claim.reimbursable_pence,
        "rate_period": _rate_used(claim),
        "estimated_rate": claim.rate_provenance == "estimated",
    }


def claim_etag(claim: Claim) -> str:
    return make_etag("claim", str(claim.id), claim.version)


def claim_public(session: Session, claim: Claim, events: Sequence[ClaimEvent] | None = None) -> ClaimPublic:
    assert claim.id is not None
    if events is None:
        events = claims_repo.events_of(session, [claim.id]).get(claim.id, [])
    return ClaimPublic(
        id=claim.id,
        kind=claim.kind,
        adjusts_claim_id=claim.adjusts_claim_id,
        amount_pence=claim.amount_pence,
        status=claim.status,
        payment_reference=claim.payment_reference,
        history=[ClaimEventPublic(status=e.status, action=e.action, at=e.at, by=e.by, reason=e.reason) for e in events],
        created_at=claim.created_at,
        created_by=claim.created_by,
        updated_at=claim.updated_at,
        updated_by=claim.updated_by,
        **_common(claim),
    )


def preview_public(c: Computed, *, available_pence: int) -> ClaimPreview:
    fields = computation_fields(c)
    assert c.post.id is not None and c.rate is not None
    return ClaimPreview(
        post_id=c.post.id,
        pcn_code=c.post.pcn_code,
        role_code=c.post.role_code,
        month=c.month,
        fy=c.fy,
        pot=c.pot,
        salary_pence=c.inputs.salary_pence,
        employer_ni_pence=c.inputs.employer_ni_pence,
        employer_pension_pence=c.inputs.employer_pension_pence,
        supplier_fee_pence=c.inputs.supplier_fee_pence,
        days_in_post=fields["days_in_post"],
        days_in_month=fields["days_in_month"],
        hours_per_week=hours.centi_to_hours(c.post.hours_per_week_centi),
        wte=fields["wte"],
        cap_pence=fields["cap_pence"],
        fee_allowed_pence=fields["fee_allowed_pence"],
        actual_pence=fields["actual_pence"],
        funding_share=fields["funding_share"],
        reimbursable_pence=fields["reimbursable_pence"],
        rate_period=RatePeriodUsed(
            id=c.rate.id,
            effective_from=c.rate.effective_from,
            annual_max_pence=c.rate.annual_max_pence,
            geography=c.rate.geography,
            provenance=c.rate.provenance,
            source=c.rate.source,
        ),
        estimated_rate=c.rate.provenance == "estimated",
        available_pence=available_pence,
        fits_budget=True,
    )
