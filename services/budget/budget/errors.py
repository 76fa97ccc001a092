"""Problems the budget service answers with (``type`` = ``/problems/<code>``)."""

from __future__ import annotations

from arrs_kit.calendar import InvalidFinancialYear as InvalidFinancialYear
from arrs_kit.problems import ProblemError


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


class FundingShareNotAllowed(ProblemError):
    status, code, title = 422, "funding-share-not-allowed", "Only a mental health practitioner post has a funding share"


class InvalidLeaveDate(ProblemError):
    status, code, title = 422, "invalid-leave-date", "A leave date is on or after the start date"
