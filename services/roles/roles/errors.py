"""Problems the roles service answers with (``type`` = ``/problems/<code>``)."""

from __future__ import annotations

from arrs_kit.problems import Conflict, ProblemError, Unprocessable


class InvalidFinancialYear(ProblemError):
    status, code, title = 422, "invalid-financial-year", "Not a financial year"


class RoleNotFound(ProblemError):
    status, code, title = 404, "role-not-found", "No such role in the catalogue"


class RoleExists(ProblemError):
    status, code, title = 409, "role-exists", "A role with this code exists"


class RatePeriodConflict(ProblemError):
    status, code, title = 409, "rate-period-conflict", "A current period of this role and geography starts on that day"


class RatePeriodAlreadySuperseded(ProblemError):
    status, code, title = 409, "rate-period-already-superseded", "That period has already been corrected"


class InvalidSupersession(ProblemError):
    status, code, title = (
        422,
        "invalid-supersession",
        "A correction must supersede a period of the same role and geography",
    )


class FundingShareConflict(ProblemError):
    status, code, title = 409, "funding-share-conflict", "A funding share of this role starts on that day"


class InvalidRoleDates(ProblemError):
    status, code, title = 422, "invalid-role-dates", "retired_on must not be before added_on"


class TemplateNotFound(ProblemError):
    status, code, title = 404, "job-plan-template-not-found", "This role has no job-plan template yet"


class RateBandMismatch(ProblemError):
    status, code, title = (
        422,
        "rate-band-mismatch",
        "A banded role's periods carry an AfC band; no other role's does",
    )


class RateImportInvalid(Unprocessable):
    code, title = "rate-import-invalid", "Some rows of the rate table are not valid; nothing was loaded"


class RateImportConflict(Conflict):
    code, title = (
        "rate-import-conflict",
        "The rate table gives other amounts for published periods; nothing was loaded",
    )


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported-media-type", "The body's Content-Type is not one this endpoint reads"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload-too-large", "The body is too large"
