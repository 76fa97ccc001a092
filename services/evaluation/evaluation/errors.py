"""The evaluation service's problems: each a precise ``type`` (``/problems/<code>``) and status."""

from __future__ import annotations

from arrs_kit.problems import Conflict, NotFound, ProblemError, Unprocessable


class InvalidFinancialYear(ProblemError):
    status, code, title = 422, "invalid-financial-year", "Not a financial year"


class PostNotFound(NotFound):
    code, title = "post-not-found", "No such post"


class PcnNotFound(NotFound):
    code, title = "pcn-not-found", "No such PCN"


class JobPlanNotFound(NotFound):
    code, title = "job-plan-not-found", "The post has no job plan"


class JobPlanVersionNotFound(NotFound):
    code, title = "job-plan-version-not-found", "No such version of the job plan"


class TemplateNotFound(NotFound):
    code, title = "job-plan-template-not-found", "The role has no job-plan template"


class KpiNotFound(NotFound):
    code, title = "kpi-not-found", "No such KPI"


class JobPlanExists(Conflict):
    code, title = "job-plan-exists", "The post already has a job plan"


class KpiRetired(Conflict):
    code, title = "kpi-retired", "The KPI is retired"


class PracticeNotServed(Unprocessable):
    code, title = "practice-not-served", "A practice the post does not serve"


class InvalidMeasurements(Unprocessable):
    code, title = "invalid-measurements", "Some measurements are not valid; none was recorded"


class InvalidTargetPeriod(Unprocessable):
    code, title = "invalid-target-period", "A target takes effect from the start of a period of the KPI"
