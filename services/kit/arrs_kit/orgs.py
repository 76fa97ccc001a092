"""The organisation hierarchy (practice → PCN → ICB) as other services see it: one typed, cached
client of the budget service's register, for the scope checks that need more than the principal.

Services call the budget service directly (inside the platform), signing as an internal admin
principal ``service:<name>`` with the shared gateway secret. Answers are cached for ``ttl_s``: a
practice that moves PCN is seen by other services within that time. A register that cannot be
reached makes the caller fail with 503 ``org-register-unavailable``, never guess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from arrs_kit.principal import Principal, PrincipalAuth
from arrs_kit.problems import ProblemError


class OrgRegisterUnavailable(ProblemError):
    status, code, title = 503, "org-register-unavailable", "The organisation register could not be read"


@dataclass(frozen=True, slots=True)
class Pcn:
    code: str
    icb_code: str
    practice_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Practice:
    code: str
    pcn_code: str | None
    icb_code: str | None


class OrgDirectory:
    def __init__(
        self,
        base_url: str,
        *,
        gateway_secret: str,
        service_name: str,
        ttl_s: float = 60.0,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport, trust_env=False)
        self.secret = gateway_secret
        self.principal = Principal(kind="admin", client_id=f"service:{service_name}")
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Any]] = {}

    async def _get(self, path: str) -> dict[str, Any] | None:
        hit = self._cache.get(path)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl_s:
            cached: dict[str, Any] | None = hit[1]
            return cached
        try:
            response = await self.client.get(path, auth=PrincipalAuth(self.principal, self.secret))
        except httpx.HTTPError as exc:
            raise OrgRegisterUnavailable(f"The budget service did not answer ({type(exc).__name__}).") from exc
        if response.status_code == 404:
            body = None
        elif response.status_code == 200:
            body = response.json()
        else:
            raise OrgRegisterUnavailable(f"The budget service answered {response.status_code} for {path}.")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[path] = (now, body)
        return body

    async def pcn(self, code: str) -> Pcn | None:
        body = await self._get(f"/v1/pcns/{code.upper()}")
        if body is None:
            return None
        return Pcn(code=body["code"], icb_code=body["icb_code"], practice_codes=tuple(body["practice_codes"]))

    async def practice(self, code: str) -> Practice | None:
        body = await self._get(f"/v1/practices/{code.upper()}")
        if body is None:
            return None
        return Practice(code=body["practice_code"], pcn_code=body["pcn_code"], icb_code=body["icb_code"])

    async def can_read_practice(self, principal: Principal, practice_code: str) -> bool:
        """Whether ``principal`` may read data of a practice (its workload, its list sizes)."""
        if principal.is_admin:
            return True
        if principal.kind == "practice_system":
            return practice_code.upper() in principal.org_codes
        practice = await self.practice(practice_code)
        if practice is None or practice.pcn_code is None:
            return False
        if principal.kind == "pcn":
            return practice.pcn_code in principal.org_codes
        if principal.kind in ("icb", "dashboard"):
            return not principal.org_codes or practice.icb_code in principal.org_codes
        return False

    async def can_read_pcn(self, principal: Principal, pcn_code: str) -> bool:
        if principal.is_admin:
            return True
        if principal.kind == "pcn":
            return pcn_code.upper() in principal.org_codes
        if principal.kind in ("icb", "dashboard"):
            pcn = await self.pcn(pcn_code)
            return pcn is not None and (not principal.org_codes or pcn.icb_code in principal.org_codes)
        return False

    async def aclose(self) -> None:
        await self.client.aclose()
