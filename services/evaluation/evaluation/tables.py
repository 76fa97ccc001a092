"""Every table of the evaluation service, for the migrations (``alembic check`` compares them all)."""

from __future__ import annotations

from evaluation import models
from evaluation.changes import models as change_models
from evaluation.jobplans import models as jobplan_models
from evaluation.readiness import models as readiness_models
from evaluation.workload import models as workload_models

metadata = models.metadata

__all__ = ["change_models", "jobplan_models", "metadata", "readiness_models", "workload_models"]
