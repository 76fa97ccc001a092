"""Problems the budget service answers with (``type`` = ``/problems/<code>``)."""

from __future__ import annotations

from arrs_kit.problems import ProblemError
from budget.domain.calendar import InvalidFinancialYear as InvalidFinancialYear


class IcbExists(ProblemError):
    status, code, title = 409, "icb-exists", "An ICB with this code exists"


class UnknownIcb(ProblemError):
    status, code, title = 422, "unknown-icb", "No such ICB in the register"


class PcnExists(ProblemError):
    status, code, title = 409, "pcn-exists", "A PCN with this code exists"


class PcnNotFound(ProblemError):
    status, code, title = 404, "pcn-not-found", "No such PCN"


class PracticeNotFound(ProblemError):
    status, code, title = 404, "practice-not-found", "No such practice"


class PracticeInAnotherPcn(ProblemError):
    status, code, title = 409, "practice-in-another-pcn", "A practice is a current member of another PCN"


class MembershipOverlap(ProblemError):
    status, code, title = (
        409,
        "membership-overlap",
        "The practice's membership history already covers that day",
    )


class InvalidEffectiveDate(ProblemError):
    status, code, title = 422, "invalid-effective-date", "The effective date does not fit the memberships"


class InvalidReferenceDate(ProblemError):
    status, code, title = (
        422,
        "invalid-reference-date",
        "A weighted population is counted on 1 January before the financial year",
    )


class WeightedPopulationMissing(ProblemError):
    status, code, title = (
        422,
        "weighted-population-missing",
        "The PCN has no weighted population for this financial year",
    )


class FundingRateMissing(ProblemError):
    status, code, title = 422, "funding-rate-missing", "No funding rate is recorded for this financial year"


class PotNotAvailable(ProblemError):
    status, code, title = 422, "pot-not-available", "This financial year has no such pot"


class BudgetExceeded(ProblemError):
    status, code, title = 409, "budget-exceeded", "Not enough available in the pot"


class PostNotFound(ProblemError):
    status, code, title = 404, "post-not-found", "No such post"


class PracticeNotInPcn(ProblemError):
    status, code, title = 422, "practice-not-in-pcn", "A practice is not a current member of the post's PCN"


class UnknownRole(ProblemError):
    status, code, title = 422, "unknown-role", "The role catalogue has no such role"


class EmployerNotInPcn(ProblemError):
    status, code, title = (
        422,
        "employer-not-in-pcn",
        "A post employed by a practice is employed by a current member practice of its PCN",
    )


class FundingShareNotAllowed(ProblemError):
    status, code, title = 422, "funding-share-not-allowed", "Only a mental health practitioner post has a funding share"


class InvalidLeaveDate(ProblemError):
    status, code, title = 422, "invalid-leave-date", "A leave date is on or after the start date"


# The checks of a claim (domain §6): ``type`` ends with the reason code.


class RoleNotClaimable(ProblemError):
    status, code, title = 422, "role-not-claimable", "The role was not claimable on the 1st of the month"


class RateNotPublished(ProblemError):
    status, code, title = 422, "rate-not-published", "No rate period is in force for the role and geography"


class PostNotActive(ProblemError):
    status, code, title = 422, "post-not-active", "No day of the month lies inside the post's dates"


class PostInBaseline(ProblemError):
    status, code, title = 422, "post-in-baseline", "The post is part of the 2019 baseline"


class DuplicateClaim(ProblemError):
    status, code, title = 409, "duplicate-claim", "A claim for this post and month exists"


class ClaimMonthNotEnded(ProblemError):
    status, code, title = 422, "claim-month-not-ended", "The month has not ended yet (claims are in arrears)"


class RoleCapExceeded(ProblemError):
    status, code, title = 409, "role-cap-exceeded", "The role's cap for the month would be exceeded"


class SupplierFeeNotAllowed(ProblemError):
    status, code, title = 422, "supplier-fee-not-allowed", "Only a social prescribing link worker has a supplier fee"


class ClaimNotFound(ProblemError):
    status, code, title = 404, "claim-not-found", "No such claim"


class InvalidClaimTransition(ProblemError):
    status, code, title = 409, "invalid-claim-transition", "The claim's status does not allow this"


class AdjustmentPending(ProblemError):
    status, code, title = 409, "adjustment-pending", "An adjustment of this claim awaits a decision"


class AdjustmentNotNeeded(ProblemError):
    status, code, title = 422, "adjustment-not-needed", "The corrected amounts change nothing"


class WorkforcePlanNotFound(ProblemError):
    status, code, title = 404, "workforce-plan-not-found", "The PCN has no workforce plan for this financial year"


class MonthOutsideFinancialYear(ProblemError):
    status, code, title = 422, "month-outside-financial-year", "A month lies outside the financial year"


class AfcBandRequired(ProblemError):
    status, code, title = 422, "afc-band-required", "Only a role with no AfC band takes a post without one"


class FinancialYearClosed(ProblemError):
    status, code, title = 422, "financial-year-closed", "The financial year has been closed"


class ClaimWindowOpen(ProblemError):
    status, code, title = 422, "claim-window-open", "Claims for the financial year can still be made"


class ClaimsOutstanding(ProblemError):
    status, code, title = 409, "claims-outstanding", "Claims of the financial year are submitted or approved, unpaid"


class ClaimReturnNotFound(ProblemError):
    status, code, title = 404, "claim-return-not-found", "No such claim return"


class ClaimReturnExists(ProblemError):
    status, code, title = 409, "claim-return-exists", "The PCN has a return for that month"


class InvalidReturnTransition(ProblemError):
    status, code, title = 409, "invalid-return-transition", "The return is not in a state that allows this"


class ReturnNotDeclared(ProblemError):
    status, code, title = 422, "return-not-declared", "A return is declared before it is submitted"


class ReturnEmpty(ProblemError):
    status, code, title = 422, "return-empty", "The return has no line to submit"


class ReturnRefused(ProblemError):
    status, code, title = 409, "return-refused", "Lines of the return were refused: none was submitted"


class ReturnLinesUndecided(ProblemError):
    status, code, title = 409, "return-lines-undecided", "Lines of the return await a decision"


class UpliftNotApplicable(ProblemError):
    status, code, title = 422, "uplift-not-applicable", "The rate period or posts do not make an uplift of this PCN"
