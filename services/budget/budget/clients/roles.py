"""The role catalogue as the budget service sees it: one typed, cached client of the roles service.

A claim needs a role's claimable dates, the rate period in force on the 1st of the claim month, the
funding share and the FY's cap. ``GET /v1/roles/{role_code}`` answers all of it at once. A published
period never changes (a correction is a new period that supersedes it), so answers are cached for
``ttl_s``: a correction published in the roles service reaches new claims within that time, and a
claim keeps the id of the period it was computed with. A roles service that cannot be read makes the
caller fail with 503 ``roles-unavailable``: a claim is never computed with a guessed rate.

The client is synchronous (the budget endpoints run in worker threads) and thread-safe. A roles
service that stalls must not take the budget service with it (issue 9: sixty stalled previews held
every worker thread, and a budget-only read waited 9 s), so calls to it are a bulkhead:

- short timeouts (``connect_timeout_s``, ``timeout_s`` for each read);
- at most ``max_in_flight`` calls at once: one more is answered 503 at once, with ``Retry-After``,
  instead of waiting for a thread that waits on the roles service;
- a circuit breaker (:mod:`budget.clients.breaker`): after ``breaker_failures`` consecutive failures every
  call is answered 503 at once for ``breaker_cool_down_s``, then one trial call decides.

Answers already cached are served whatever the state of the roles service. When a cached answer has
expired, one call refreshes it while the requests that arrive meanwhile are served the answer it
replaces (at most ``ttl_s`` plus one call's time old): a burst of claims on an expired role makes one
call to the roles service, not one per request (which the bulkhead would refuse beyond
``max_in_flight``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from arrs_kit.calls import internal_client
from arrs_kit.principal import Principal, PrincipalAuth
from arrs_kit.problems import ProblemError
from arrs_kit.tracing import Tracing
from budget.clients.breaker import CircuitBreaker


class RolesUnavailable(ProblemError):
    status, code, title = 503, "roles-unavailable", "The role catalogue could not be read"


def _refused(detail: str, reason: str, retry_after_s: int) -> RolesUnavailable:
    """Answered at once, without calling the roles service; ``reason`` says why, for the client."""
    return RolesUnavailable(detail, headers={"Retry-After": str(retry_after_s)}, extra={"reason": reason})


@dataclass(frozen=True, slots=True)
class RatePeriod:
    id: int
    geography: str
    afc_band: str | None  # banded roles (MHP, AP) only
    effective_from: date
    annual_max_pence: int
    provenance: str
    source: str
    status: str
    supersedes_id: int | None = None  # the period this one corrects (an uplift, say)


@dataclass(frozen=True, slots=True)
class FundingShare:
    effective_from: date
    share: str
    max_share: str | None


@dataclass(frozen=True, slots=True)
class Cap:
    fy: str
    unit: str  # "posts" (headcount of posts) or "wte"
    max_below_threshold: int
    max_at_or_above_threshold: int
    list_size_threshold: int

    def limit_for(self, list_size: int) -> int:
        return self.max_at_or_above_threshold if list_size >= self.list_size_threshold else self.max_below_threshold


@dataclass(frozen=True, slots=True)
class Role:
    code: str
    name: str
    afc_band: str | None
    added_on: date
    retired_on: date | None
    rate_periods: tuple[RatePeriod, ...]
    funding_shares: tuple[FundingShare, ...]
    caps: tuple[Cap, ...]
    supplier_fee_monthly_max_pence: int | None

    def claimable_on(self, day: date) -> bool:
        return self.added_on <= day and (self.retired_on is None or day <= self.retired_on)

    @property
    def banded(self) -> bool:
        """Paid by the post's AfC band (mental health and advanced practitioners, domain §4)."""
        return any(p.afc_band is not None for p in self.rate_periods if p.status == "current")

    def rate_in_force(self, geography: str, day: date, afc_band: str | None = None) -> RatePeriod | None:
        """The current (not superseded) period of ``geography`` (and, for a banded role, of
        ``afc_band``, as :func:`normalise_band` gives it) with the latest start on or before ``day``."""
        best: RatePeriod | None = None
        for period in self.rate_periods:
            if (
                period.status != "current"
                or period.geography != geography
                or period.afc_band != afc_band
                or period.effective_from > day
            ):
                continue
            if best is None or period.effective_from > best.effective_from:
                best = period
        return best

    def funding_share_on(self, day: date) -> FundingShare | None:
        best: FundingShare | None = None
        for share in self.funding_shares:
            if share.effective_from <= day and (best is None or share.effective_from > best.effective_from):
                best = share
        return best

    def cap_for(self, fy: str) -> Cap | None:
        return next((cap for cap in self.caps if cap.fy == fy), None)


def normalise_band(band: str) -> str:
    """An AfC band as the catalogue keys a banded rate: ``Band 8A`` → ``8a``."""
    return band.strip().lower().removeprefix("band").strip()


def _role(body: dict[str, Any]) -> Role:
    return Role(
        code=body["code"],
        name=body["name"],
        afc_band=body.get("afc_band"),
        added_on=date.fromisoformat(body["added_on"]),
        retired_on=date.fromisoformat(body["retired_on"]) if body.get("retired_on") else None,
        rate_periods=tuple(
            RatePeriod(
                id=p["id"],
                geography=p["geography"],
                afc_band=p.get("afc_band"),
                effective_from=date.fromisoformat(p["effective_from"]),
                annual_max_pence=p["annual_max_pence"],
                provenance=p["provenance"],
                source=p["source"],
                status=p["status"],
                supersedes_id=p.get("supersedes_id"),
            )
            for p in body["rate_periods"]
        ),
        funding_shares=tuple(
            FundingShare(
                effective_from=date.fromisoformat(s["effective_from"]), share=s["share"], max_share=s.get("max_share")
            )
            for s in body["funding_shares"]
        ),
        caps=tuple(
            Cap(
                fy=c["fy"],
                unit=c["unit"],
                max_below_threshold=c["max_below_threshold"],
                max_at_or_above_threshold=c["max_at_or_above_threshold"],
                list_size_threshold=c["list_size_threshold"],
            )
            for c in body["caps"]
        ),
        supplier_fee_monthly_max_pence=body.get("supplier_fee_monthly_max_pence"),
    )


class RoleCatalogue:
    """``role(code)`` answers the role (or None when the catalogue has no such role)."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        gateway_secret: str,
        service_name: str = "budget",
        ttl_s: float = 60.0,
        max_in_flight: int = 4,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.clock = clock
        self.secret = gateway_secret
        self.principal = Principal(kind="admin", client_id=f"service:{service_name}")
        self.auth = PrincipalAuth(self.principal, gateway_secret)
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Role | None]] = {}
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()  # codes with an expired answer being read again
        self.max_in_flight = max_in_flight
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self.breaker = breaker or CircuitBreaker(failure_threshold=5, cool_down_s=10.0)

    @classmethod
    def over_http(
        cls,
        base_url: str,
        *,
        gateway_secret: str,
        ttl_s: float = 60.0,
        timeout_s: float = 2.0,
        connect_timeout_s: float = 0.5,
        max_in_flight: int = 4,
        breaker_failures: int = 5,
        breaker_cool_down_s: float = 10.0,
        tracing: Tracing | None = None,
    ) -> RoleCatalogue:
        client = internal_client(
            base_url,
            peer="roles",
            # The pool never makes a call wait: no more calls than connections are let through.
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight),
            tracing=tracing,
        )
        breaker = CircuitBreaker(failure_threshold=breaker_failures, cool_down_s=breaker_cool_down_s)
        return cls(client, gateway_secret=gateway_secret, ttl_s=ttl_s, max_in_flight=max_in_flight, breaker=breaker)

    def role(self, code: str) -> Role | None:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(code)
            if hit is not None:
                if now - hit[0] < self.ttl_s:
                    return hit[1]
                if code in self._refreshing and self.ttl_s > 0:
                    return hit[1]  # another request is reading it again: its answer until then
                self._refreshing.add(code)
        try:
            return self._read(code, now)
        finally:
            if hit is not None:
                with self._lock:
                    self._refreshing.discard(code)

    def fresh_role(self, code: str) -> Role | None:
        """The role read from the roles service now, whatever the cache holds (and kept): for a caller
        that names a period the cached answer may not have yet, such as a just published uplift."""
        return self._read(code, self.clock())

    def _read(self, code: str, now: float) -> Role | None:
        if not self._in_flight.acquire(blocking=False):
            raise _refused(
                f"{self.max_in_flight} calls to the roles service are already waiting for it; retry shortly.",
                "too-many-in-flight",
                1,
            )
        try:
            role = self._fetch(code)
        finally:
            self._in_flight.release()
        with self._lock:
            if len(self._cache) > 1_000:
                self._cache.clear()
            self._cache[code] = (now, role)
        return role

    def _fetch(self, code: str) -> Role | None:
        """One call through the breaker; every outcome is reported to it."""
        wait_s = self.breaker.admit()
        if wait_s is not None:
            raise _refused(
                "The roles service failed repeatedly; calls to it resume after a pause.", "circuit-open", wait_s
            )
        path = f"/v1/roles/{code}"
        answered = False
        try:
            try:
                response = self.client.get(path, auth=self.auth)
            except httpx.HTTPError as exc:
                raise RolesUnavailable(f"The roles service did not answer ({type(exc).__name__}).") from exc
            if response.status_code in (404, 422):  # no such role, or a code the catalogue cannot have
                role = None
            elif response.status_code == 200:
                try:
                    role = _role(response.json())
                except (ValueError, KeyError, TypeError) as exc:
                    raise RolesUnavailable("The roles service answered a role this client cannot read.") from exc
            else:
                raise RolesUnavailable(f"The roles service answered {response.status_code} for {path}.")
            answered = True
            return role
        finally:
            if answered:
                self.breaker.succeeded()
            else:
                self.breaker.failed()

    def close(self) -> None:
        self.client.close()
