"""HTTP endpoints of the budget service.

Resources it owns at the gateway: "/v1/icbs", "/v1/pcns", "/v1/funding-rates", "/v1/posts", "/v1/claims.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1")
