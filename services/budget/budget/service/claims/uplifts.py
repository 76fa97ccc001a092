"""A backdated rate uplift applied to paid claims (domain §6): for the paid claims whose rate period a
new period supersedes, and only for the posts the PCN confirms the uplift was passed on to, one
adjustment per claim for the difference, each showing both computations. It previews first; applying
twice creates nothing new (a claim already at the new amount has no difference)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import cast

from sqlalchemy.orm import Session

from arrs_kit.idempotency import KeyLease
from arrs_kit.principal import Principal
from budget.clients.roles import RatePeriod, RoleCatalogue
from budget.domain.calendar import financial_year
from budget.errors import UpliftNotApplicable
from budget.models import Claim, Pcn
from budget.repository import claims as claims_repo
from budget.repository import posts as posts_repo
from budget.schemas.claims import ClaimInput, RatePeriodUsed
from budget.schemas.uplifts import UpliftComputation, UpliftCreate, UpliftLine, UpliftPublic
from budget.service import common
from budget.service.claims.adjustments import add_adjustment, claimed_so_far, recompute, standing, standing_terms
from budget.service.claims.segments import PaidTerms, paid_terms_of


def _used(rate: RatePeriod) -> RatePeriodUsed:
    return RatePeriodUsed.model_validate(rate, from_attributes=True)


def _superseding(catalogue: RoleCatalogue, role_codes: Sequence[str], rate_period_id: int) -> RatePeriod:
    """The new period, from the catalogue roles of the confirmed posts (read afresh when the cached
    answer lacks it: an uplift is often applied just after its period is published); it must
    supersede another."""
    for code in sorted(set(role_codes)):
        role = catalogue.role(code)
        if role is not None and not any(p.id == rate_period_id for p in role.rate_periods):
            role = catalogue.fresh_role(code)
        found = next((p for p in role.rate_periods if p.id == rate_period_id), None) if role else None
        if found is not None:
            if found.supersedes_id is None:
                raise UpliftNotApplicable(
                    f"Rate period {rate_period_id} supersedes no other period: it is no uplift of a paid rate.",
                    extra={"rate_period_id": rate_period_id},
                )
            return found
    roles = ", ".join(sorted(set(role_codes)))
    raise UpliftNotApplicable(
        f"Rate period {rate_period_id} is no period of the confirmed posts' roles ({roles}).",
        extra={"rate_period_id": rate_period_id},
    )


def _on(session: Session, claim: Claim, old_id: int) -> bool:
    """Whether the claim stands on the superseded period (an uplift already applied moved it off)."""
    return any(rate.id == old_id for rate in standing_terms(session, claim).rates)


def apply_uplift(
    *,
    session: Session,
    catalogue: RoleCatalogue,
    principal: Principal,
    pcn: Pcn,
    fy: str,
    data: UpliftCreate,
    lease: KeyLease | None = None,
) -> tuple[UpliftPublic, bool]:
    """Preview (``apply`` false) or apply the uplift; answers it and whether an adjustment was made."""
    financial_year(fy)
    posts = posts_repo.posts_by_id(session, data.post_ids)
    strangers = sorted(set(data.post_ids) - {cast(int, p.id) for p in posts if p.pcn_code == pcn.code})
    if strangers:
        raise UpliftNotApplicable(f"Posts {strangers} are not posts of PCN {pcn.code}.", extra={"post_ids": strangers})
    new = _superseding(catalogue, [p.role_code for p in posts], data.rate_period_id)
    old_id = cast(int, new.supersedes_id)
    paid = [c for c in claims_repo.paid_claims_of(session, pcn.code, fy, []) if _on(session, c, old_id)]
    confirmed = [c for c in paid if c.post_id in set(data.post_ids)]
    if data.apply:  # the claims' rows first, by id, as every writer of several claims locks them
        confirmed = list(claims_repo.lock_claims(session, [cast(int, c.id) for c in confirmed]))
    now = common.now()
    lines: list[UpliftLine] = []
    made = False
    for claim in confirmed:
        stands_on = standing(session, claim)  # its latest amounts and terms
        inputs = ClaimInput.model_validate(stands_on, from_attributes=True)
        before_terms = paid_terms_of(stands_on)
        so_far = claimed_so_far(session, claim)
        before = recompute(session, catalogue, claim, inputs, before_terms)
        after_terms = PaidTerms(before_terms.terms, [replace(new) if r.id == old_id else r for r in before_terms.rates])
        after = recompute(session, catalogue, claim, inputs, after_terms)
        assert before.result is not None and after.result is not None
        difference = after.result.reimbursable_pence - so_far
        outcome = "adjust" if difference else "no-difference"
        adjustment_id = None
        if difference and claims_repo.pending_adjustment_id(session, claim.id) is not None:
            outcome = "adjustment-pending"
        elif difference and data.apply:
            reason = data.reason or f"uplift: rate period {new.id} supersedes {old_id}"
            key = lease.key if lease else None
            adjustment = add_adjustment(
                session, principal, claim, after, delta=difference, reason=reason, now=now, idempotency_key=key
            )
            adjustment_id, outcome, made = adjustment.id, "adjusted", True
        lines.append(
            UpliftLine(
                claim_id=cast(int, claim.id),
                post_id=claim.post_id,
                month=claim.month,
                outcome=outcome,
                before=UpliftComputation(
                    rate_period=_used(next(r for r in before_terms.rates if r.id == old_id)),
                    cap_pence=before.result.cap_pence,
                    reimbursable_pence=so_far,
                ),
                after=UpliftComputation(
                    rate_period=_used(new),
                    cap_pence=after.result.cap_pence,
                    reimbursable_pence=after.result.reimbursable_pence,
                ),
                difference_pence=difference if outcome in ("adjust", "adjusted") else 0,
                adjustment_id=adjustment_id,
            )
        )
    public = UpliftPublic(
        pcn_code=pcn.code,
        fy=fy,
        rate_period=_used(new),
        supersedes_id=old_id,
        applied=data.apply,
        lines=lines,
        total_difference_pence=sum(line.difference_pence for line in lines),
        not_confirmed_claim_ids=[cast(int, c.id) for c in paid if c.post_id not in set(data.post_ids)],
    )
    if data.apply:
        if lease is not None:
            status = 201 if made else 200
            lease.record(session, status=status, body=public.model_dump(mode="json"), location=None)
        session.commit()
    else:
        session.rollback()
    return public, made
