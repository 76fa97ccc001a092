"""HTTP endpoints of the budget service, one module per resource. Resources it owns at the gateway:
"/v1/icbs", "/v1/pcns", "/v1/practices", "/v1/funding-rates", "/v1/budgets", "/v1/posts", "/v1/claims",
"/v1/claim-returns".
"""

from fastapi import APIRouter

from budget.routers import (
    budgets,
    claim_returns,
    claims,
    forecast,
    funding_rates,
    organisations,
    posts,
    uplifts,
    workforce_plans,
)

ROUTERS: list[APIRouter] = [
    organisations.router,
    funding_rates.router,
    budgets.router,
    posts.router,
    claims.router,
    claim_returns.router,
    uplifts.router,
    forecast.router,
    workforce_plans.router,
]
"""In the order their routes are matched and documented."""
