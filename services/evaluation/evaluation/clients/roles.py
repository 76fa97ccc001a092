"""The roles service as the evaluation service sees it: a role's job-plan template, to start a job
plan from. Read as the service itself (templates are public to every reader); a roles service that
cannot be read raises 503 ``roles-unavailable``."""

from __future__ import annotations

from typing import Any

import httpx

from arrs_kit.calls import internal_client
from arrs_kit.principal import Principal, PrincipalAuth
from arrs_kit.problems import ProblemError
from arrs_kit.tracing import Tracing


class RolesUnavailable(ProblemError):
    status, code, title = 503, "roles-unavailable", "The role catalogue could not be read"


class RolesClient:
    def __init__(self, client: httpx.Client, *, gateway_secret: str) -> None:
        self.client = client
        self.auth = PrincipalAuth(
            Principal(kind="admin", client_id="service:evaluation", name="evaluation"), gateway_secret
        )

    @classmethod
    def over_http(
        cls, base_url: str, *, gateway_secret: str, timeout_s: float, tracing: Tracing | None = None
    ) -> RolesClient:
        client = internal_client(base_url, peer="roles", timeout=timeout_s, tracing=tracing)
        return cls(client, gateway_secret=gateway_secret)

    def job_plan_template(self, role_code: str) -> dict[str, Any] | None:
        """The role's template (purpose, responsibilities, suggested KPIs), or None if it has none."""
        try:
            response = self.client.get(f"/v1/roles/{role_code}/job-plan-template", auth=self.auth)
        except httpx.HTTPError as exc:
            raise RolesUnavailable(f"The roles service did not answer ({type(exc).__name__}).") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RolesUnavailable(f"The roles service answered {response.status_code}.")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise RolesUnavailable("The roles service answered something this client cannot read.") from exc
        return body

    def close(self) -> None:
        self.client.close()
