"""The budget service as the evaluation service sees it: posts, PCNs and practices, read through one
typed, cached client.

Every read is made **on behalf of the caller**: the request is signed as the caller's own principal,
so the budget service applies its own scope rules and a post or PCN outside the caller's scope is
simply not found (404), exactly as if it were asked directly. Answers are cached per caller for
``ttl_s``. A budget service that cannot be read raises 503 ``budget-unavailable``: nothing is
decided, and nothing written, on a guess.

The client is synchronous (the evaluation endpoints run in worker threads) and thread-safe.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, TypeVar, cast

import httpx

from arrs_kit.calls import internal_client
from arrs_kit.principal import Principal, PrincipalAuth
from arrs_kit.problems import ProblemError
from arrs_kit.tracing import Tracing
from evaluation.kinds import ADMIN

SERVICE = Principal(kind=ADMIN, client_id="service:evaluation", name="evaluation")
"""The evaluation service itself: for comparison groups, which are aggregates of practices the caller
may not see one by one (nothing about them but a count and an average is ever answered)."""


class BudgetUnavailable(ProblemError):
    status, code, title = 503, "budget-unavailable", "The budget service could not be read"


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Read:
    """One answer of the budget service as a computation used it: what was asked, as whom, and the
    SHA-256 of the answer's bytes (of its status when it was not found), not the answer itself."""

    principal: Principal
    path: str
    params: tuple[tuple[str, Any], ...]
    digest: bytes


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    pcn_code: str
    role_code: str
    start_date: date
    leave_date: date | None
    hours_per_week: str
    practice_codes: tuple[str, ...]
    supervisor_name: str
    supervisor_role: str
    display_name: str
    unfunded_monthly_pence: int = 0  # the non-reimbursable monthly costs the PCN carries, all heads


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """What the analyses need of a claim (or an adjustment of one)."""

    id: int
    kind: str
    post_id: int
    month: str
    status: str
    amount_pence: int
    actual_pence: int
    reimbursable_pence: int


@dataclass(frozen=True, slots=True)
class Pcn:
    code: str
    name: str
    icb_code: str
    practice_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Practice:
    code: str
    pcn_code: str | None
    icb_code: str | None


def _post(body: dict[str, Any]) -> Post:
    return Post(
        id=int(body["id"]),
        pcn_code=body["pcn_code"],
        role_code=body["role_code"],
        start_date=date.fromisoformat(body["start_date"]),
        leave_date=date.fromisoformat(body["leave_date"]) if body.get("leave_date") else None,
        hours_per_week=body["hours_per_week"],
        practice_codes=tuple(body["practice_codes"]),
        supervisor_name=body["supervisor"]["name"],
        supervisor_role=body["supervisor"]["role"],
        display_name=body["display_name"],
        unfunded_monthly_pence=sum(int(v) for v in (body.get("unfunded_costs_monthly_pence") or {}).values()),
    )


def _claim(body: dict[str, Any]) -> ClaimLine:
    return ClaimLine(
        id=int(body["id"]),
        kind=body["kind"],
        post_id=int(body["post_id"]),
        month=body["month"],
        status=body["status"],
        amount_pence=int(body["amount_pence"]),
        actual_pence=int(body["actual_pence"]),
        reimbursable_pence=int(body["reimbursable_pence"]),
    )


class _Kept(NamedTuple):
    """An answer as the client keeps it: when it was read, its JSON (None: not found), the SHA-256 of
    its bytes and the ETag the service gave it."""

    read_at: float
    body: Any
    digest: bytes
    etag: str | None


class BudgetClient:
    def __init__(
        self,
        client: httpx.Client,
        *,
        gateway_secret: str,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.secret = gateway_secret
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[tuple[str, str], _Kept] = {}
        self._parsed: dict[tuple[str, ...], tuple[float, Any, tuple[Read, ...]]] = {}
        self._lock = threading.Lock()
        self._recordings = threading.local()

    @classmethod
    def over_http(
        cls, base_url: str, *, gateway_secret: str, ttl_s: float, timeout_s: float, tracing: Tracing | None = None
    ) -> BudgetClient:
        client = internal_client(base_url, peer="budget", timeout=timeout_s, tracing=tracing)
        return cls(client, gateway_secret=gateway_secret, ttl_s=ttl_s)

    def _stack(self) -> list[list[Read]]:
        stack: list[list[Read]] | None = getattr(self._recordings, "stack", None)
        if stack is None:
            stack = self._recordings.stack = []
        return stack

    @contextmanager
    def recording(self) -> Iterator[list[Read]]:
        """Every answer read (or answered from the cache) in this thread inside the block, in order: what a
        computation was made from, to be checked later with :meth:`unchanged`."""
        stack = self._stack()
        reads: list[Read] = []
        stack.append(reads)
        try:
            yield reads
        finally:
            stack.pop()
            if stack:
                stack[-1].extend(reads)

    def _note(self, reads: tuple[Read, ...] | list[Read]) -> None:
        stack = self._stack()
        if stack:
            stack[-1].extend(reads)

    def unchanged(self, reads: tuple[Read, ...]) -> bool:
        """Whether the budget service still answers each of ``reads`` the same, as this client reads it
        now: from its cache while the TTL holds (the same answer), afresh after it."""
        seen: set[tuple[Principal, str, tuple[tuple[str, Any], ...]]] = set()
        for read in reads:
            if (read.principal, read.path, read.params) in seen:
                continue
            seen.add((read.principal, read.path, read.params))
            _body, digest = self._answer(read.principal, read.path, dict(read.params) or None)
            if digest != read.digest:
                return False
        return True

    def _get(self, principal: Principal, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON at ``path`` as ``principal`` sees it, or None when it does not exist for them."""
        body, digest = self._answer(principal, path, params)
        stack = self._stack()
        if stack:  # a computation is recording what it reads
            stack[-1].append(Read(principal, path, tuple(sorted(params.items())) if params else (), digest))
        return body

    def _answer(self, principal: Principal, path: str, params: dict[str, Any] | None) -> tuple[Any, bytes]:
        """The answer, from the cache while its TTL holds, with the digest of its bytes. After the TTL
        an answer that came with an ETag is read again conditionally: a 304 keeps it (and its digest)
        for another TTL without the service building it or this client parsing it."""
        key = (principal.encode(), path + ("?" + str(sorted(params.items())) if params else ""))
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit.read_at < self.ttl_s:
            return hit.body, hit.digest
        etag = hit.etag if hit is not None else None
        try:
            response = self.client.get(
                path,
                params=params,
                headers={"If-None-Match": etag} if etag else None,
                auth=PrincipalAuth(principal, self.secret),
            )
        except httpx.HTTPError as exc:
            raise BudgetUnavailable(f"The budget service did not answer ({type(exc).__name__}).") from exc
        if response.status_code == 304 and hit is not None:
            with self._lock:
                self._cache[key] = hit._replace(read_at=now)
            return hit.body, hit.digest
        if response.status_code in (404, 422):  # none such, or none the caller may see
            body = None
        elif response.status_code == 200:
            try:
                body = response.json()
            except ValueError as exc:
                raise BudgetUnavailable("The budget service answered something this client cannot read.") from exc
        else:
            raise BudgetUnavailable(f"The budget service answered {response.status_code}.")
        digest = hashlib.sha256(response.content if body is not None else str(response.status_code).encode()).digest()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = _Kept(now, body, digest, response.headers.get("ETag") if body is not None else None)
        return body, digest

    def _remembered(self, key: tuple[str, ...], read: Callable[[], T]) -> T:
        """What ``read`` makes of the budget service's answers, kept as long as the answers are (an ICB's
        posts are read as objects once, not parsed again for every request): within the TTL as it is;
        after it, while every answer it was made from is read again (conditionally) unchanged."""
        if self.ttl_s <= 0:
            return read()
        now = self.clock()
        with self._lock:
            hit = self._parsed.get(key)
        if hit is not None:
            made_at, kept, made_from = hit
            fresh = now - made_at < self.ttl_s
            if fresh or self.unchanged(made_from):
                if not fresh:  # read again (conditionally) and the same: kept another TTL
                    with self._lock:
                        self._parsed[key] = (now, kept, made_from)
                self._note(made_from)  # what it was parsed from, for a recording around this read
                return cast(T, kept)
        with self.recording() as reads:
            value = read()
        with self._lock:
            if len(self._parsed) > 1_000:
                self._parsed.clear()
            self._parsed[key] = (now, value, tuple(reads))
        return value

    def _read(self, reader: Any, body: Any) -> Any:
        try:
            return reader(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise BudgetUnavailable("The budget service answered something this client cannot read.") from exc

    def post(self, principal: Principal, post_id: int) -> Post | None:
        body = self._get(principal, f"/v1/posts/{post_id}")
        return None if body is None else self._read(_post, body)

    def _pages(self, principal: Principal, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            body = self._get(principal, path, {**params, "limit": 500, **({"cursor": cursor} if cursor else {})})
            if body is None:
                return items
            items.extend(self._read(lambda b: list(b["data"]), body))
            cursor = body.get("next_cursor")
            if not cursor:
                return items

    def posts(self, principal: Principal, *, icb_code: str | None = None, pcn_code: str | None = None) -> list[Post]:
        """Every post the caller may see, of an ICB's PCNs or of one PCN (all pages)."""
        params = {k: v for k, v in (("icb_code", icb_code), ("pcn_code", pcn_code)) if v}
        return self._remembered(
            ("posts", principal.encode(), icb_code or "", pcn_code or ""),
            lambda: [self._read(_post, p) for p in self._pages(principal, "/v1/posts", params)],
        )

    def pcns(self, principal: Principal, *, icb_code: str | None = None) -> list[Pcn]:
        """Every PCN the caller may see, of one ICB or all (all pages)."""
        rows = self._pages(principal, "/v1/pcns", {"icb_code": icb_code} if icb_code else {})
        return [
            self._read(lambda b: Pcn(b["code"], b["name"], b["icb_code"], tuple(b["practice_codes"])), r) for r in rows
        ]

    def claims(self, principal: Principal, pcn_code: str, status: str) -> list[ClaimLine]:
        """Every claim and adjustment of a PCN in ``status`` the caller may see (all pages)."""
        rows = self._pages(principal, "/v1/claims", {"pcn_code": pcn_code, "status": status})
        return [self._read(_claim, c) for c in rows]

    def icb_posts(self, icb_code: str) -> list[Post]:
        """Every post of every role in an ICB's PCNs, read as the service (the served practices of all the
        roles a scorecard estimates, from one read)."""
        return self._remembered(
            ("icb-posts", icb_code),
            lambda: [self._read(_post, p) for p in self._pages(SERVICE, "/v1/posts", {"icb_code": icb_code})],
        )

    def role_posts(self, role_code: str, icb_code: str | None) -> list[Post]:
        """Every post of a role in an ICB's PCNs (or nationally), read as the service."""
        params = {"role_code": role_code, **({"icb_code": icb_code} if icb_code else {})}
        return self._remembered(
            ("role-posts", role_code, icb_code or ""),
            lambda: [self._read(_post, p) for p in self._pages(SERVICE, "/v1/posts", params)],
        )

    def practices(self, icb_code: str | None) -> dict[str, str]:
        """The current member practices of an ICB's PCNs (or of every PCN), each with its PCN, read as
        the service."""
        params = {"icb_code": icb_code} if icb_code else {}

        def read() -> dict[str, str]:
            pcns = self._pages(SERVICE, "/v1/pcns", params)
            found: dict[str, str] = self._read(
                lambda rows: {code: p["code"] for p in rows for code in p["practice_codes"]}, pcns
            )
            return found

        return self._remembered(("practices", icb_code or ""), read)

    def pcn(self, principal: Principal, code: str) -> Pcn | None:
        """A PCN (code in any case), or None when it does not exist or the caller may not see it."""
        body = self._get(principal, f"/v1/pcns/{code.upper()}")
        return (
            None
            if body is None
            else self._read(lambda b: Pcn(b["code"], b["name"], b["icb_code"], tuple(b["practice_codes"])), body)
        )

    def practice(self, principal: Principal, code: str) -> Practice | None:
        """A practice's current PCN and ICB (code in any case), or None when it does not exist or the
        caller may not see it (the budget service's scope rules decide, practice systems included)."""
        body = self._get(principal, f"/v1/practices/{code.upper()}")
        return (
            None
            if body is None
            else self._read(lambda b: Practice(b["practice_code"], b.get("pcn_code"), b.get("icb_code")), body)
        )

    def close(self) -> None:
        self.client.close()
