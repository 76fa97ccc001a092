"""HTTP endpoints of the evaluation service.

Resources it owns at the gateway:
"/v1/job-plans", "/v1/kpis", "/v1/workload", "/v1/list-sizes", "/v1/evaluations", "/v1/readiness.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
