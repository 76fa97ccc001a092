"""The circuit breaker's state machine with an injected clock (no sleeps), and the role catalogue's
bulkhead around it: a limited number of calls in flight, refusals at once with ``Retry-After``.

The catalogue tests talk to a roles "service" that is an httpx transport in this process: one that
holds its answer until the test lets it go, or one that fails to connect. No database is involved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from arrs_kit.settings import DEV_GATEWAY_SECRET
from arrs_kit.testing import ManualClock
from budget.clients.breaker import CircuitBreaker
from budget.clients.roles import RoleCatalogue, RolesUnavailable


def state_of(b: CircuitBreaker) -> str:
    return b.state  # read afresh each time (mypy would narrow the property after an assert)


def breaker(clock: ManualClock, failures: int = 3, cool_down_s: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=failures, cool_down_s=cool_down_s, clock=clock)


def test_consecutive_failures_open_it_and_a_success_resets_the_count() -> None:
    clock = ManualClock()
    b = breaker(clock)
    for _ in range(2):
        assert b.admit() is None
        b.failed()
    assert b.admit() is None
    b.succeeded()  # the count is of consecutive failures
    for _ in range(2):
        assert b.admit() is None
        b.failed()
    assert state_of(b) == "closed"
    assert b.admit() is None
    b.failed()
    assert state_of(b) == "open"


def test_open_it_refuses_with_the_seconds_left_then_half_opens_for_one_trial() -> None:
    clock = ManualClock()
    b = breaker(clock, failures=1, cool_down_s=10.0)
    assert b.admit() is None
    b.failed()
    assert b.admit() == 10
    clock.now += 0.5
    assert b.admit() == 10  # 9.5 s left: Retry-After in whole seconds, rounded up
    clock.now += 9.0
    assert b.admit() == 1  # never 0
    clock.now += 0.5
    assert state_of(b) == "half_open"
    assert b.admit() is None  # the trial
    assert b.admit() == 10  # everyone else waits for the trial's answer
    assert b.admit() == 10
    b.succeeded()
    assert state_of(b) == "closed"
    assert b.admit() is None and b.admit() is None


def test_a_failed_trial_opens_it_for_another_cool_down() -> None:
    clock = ManualClock()
    b = breaker(clock, failures=2, cool_down_s=5.0)
    for _ in range(2):
        assert b.admit() is None
        b.failed()
    clock.now += 5.0
    assert b.admit() is None
    b.failed()
    assert state_of(b) == "open"
    assert b.admit() == 5
    clock.now += 4.0
    assert b.admit() == 1
    clock.now += 1.0
    assert b.admit() is None
    b.succeeded()
    assert state_of(b) == "closed"


def test_a_half_open_breaker_lets_exactly_one_of_many_threads_through() -> None:
    clock = ManualClock()
    b = breaker(clock, failures=1, cool_down_s=1.0)
    assert b.admit() is None
    b.failed()
    clock.now += 1.0
    threads, start = 32, threading.Barrier(32)

    def admit(_: int) -> int | None:
        start.wait()
        return b.admit()

    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(admit, range(threads)))
    assert answers.count(None) == 1 and all(a == 1 for a in answers if a is not None)


def test_it_refuses_a_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0, cool_down_s=1)
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=1, cool_down_s=0)


# The catalogue's bulkhead

ROLE: dict[str, Any] = {
    "code": "clinical_pharmacist",
    "name": "Clinical pharmacist",
    "added_on": "2019-07-01",
    "retired_on": None,
    "rate_periods": [],
    "funding_shares": [],
    "caps": [],
}


class HeldRoles:
    """A roles service whose answers wait until the test lets them go (as a stopped process would)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls += 1
        self.arrived.release()
        assert self.release.wait(timeout=30), "the test never let the answer go"
        return httpx.Response(200, json=ROLE)


def catalogue(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> RoleCatalogue:
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://roles")
    return RoleCatalogue(client, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=0, **options)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def test_calls_beyond_the_limit_are_refused_at_once(pool: ThreadPoolExecutor) -> None:
    roles = HeldRoles()
    cat = catalogue(roles, max_in_flight=2)
    try:
        held = [pool.submit(cat.role, "clinical_pharmacist") for _ in range(2)]
        for _ in range(2):
            assert roles.arrived.acquire(timeout=30)  # both are inside the roles service, waiting
        with pytest.raises(RolesUnavailable) as refused:
            cat.role("clinical_pharmacist")  # the third: answered now, not after the others
        assert refused.value.status == 503 and refused.value.code == "roles-unavailable"
        assert refused.value.headers["Retry-After"] == "1"
        assert refused.value.extra == {"reason": "too-many-in-flight"}
        assert roles.calls == 2 and not any(f.done() for f in held)
    finally:
        roles.release.set()
    assert all(f.result(timeout=30) is not None for f in held)
    assert cat.role("clinical_pharmacist") is not None  # the places are free again


def test_an_expired_role_is_read_again_once_and_served_meanwhile(pool: ThreadPoolExecutor) -> None:
    roles, clock = HeldRoles(), ManualClock()
    client = httpx.Client(transport=httpx.MockTransport(roles), base_url="http://roles")
    cat = RoleCatalogue(client, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=60, max_in_flight=1, clock=clock)
    roles.release.set()
    first = cat.role("clinical_pharmacist")
    assert first is not None and roles.calls == 1 and roles.arrived.acquire(timeout=30)
    clock.now += 30
    assert cat.role("clinical_pharmacist") is first and roles.calls == 1  # fresh: no call
    clock.now += 31
    roles.release.clear()
    refresh = pool.submit(cat.role, "clinical_pharmacist")
    assert roles.arrived.acquire(timeout=30)  # the refresh waits inside the roles service
    # Meanwhile every other request is served the expired answer, with no call of its own (with
    # max_in_flight=1 a call would be refused 503 too-many-in-flight).
    assert [cat.role("clinical_pharmacist") for _ in range(5)] == [first] * 5
    assert roles.calls == 2 and not refresh.done()
    roles.release.set()
    renewed = refresh.result(timeout=30)
    assert renewed is not None and renewed is not first
    assert cat.role("clinical_pharmacist") is renewed and roles.calls == 2


def test_an_expired_role_whose_refresh_fails_is_not_served_once_the_refresh_has_ended() -> None:
    answers: list[httpx.Response | Exception] = [httpx.Response(200, json=ROLE), httpx.Response(500)]

    def roles(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = ManualClock()
    client = httpx.Client(transport=httpx.MockTransport(roles), base_url="http://roles")
    cat = RoleCatalogue(client, gateway_secret=DEV_GATEWAY_SECRET, ttl_s=60, clock=clock)
    assert cat.role("clinical_pharmacist") is not None
    clock.now += 61
    with pytest.raises(RolesUnavailable):
        cat.role("clinical_pharmacist")  # the one refreshing it learns of the failure
    answers.append(httpx.Response(200, json=ROLE))
    assert cat.role("clinical_pharmacist") is not None and not answers  # the next request reads it again


def test_failures_open_the_breaker_and_the_roles_service_is_left_alone() -> None:
    calls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    clock = ManualClock()
    cat = catalogue(down, breaker=CircuitBreaker(failure_threshold=3, cool_down_s=30, clock=clock))
    for _ in range(3):
        with pytest.raises(RolesUnavailable) as failed:
            cat.role("clinical_pharmacist")
        assert "ConnectError" in str(failed.value.detail)
    with pytest.raises(RolesUnavailable) as refused:
        cat.role("clinical_pharmacist")
    assert refused.value.extra == {"reason": "circuit-open"} and refused.value.headers["Retry-After"] == "30"
    assert calls == 3
    clock.now += 30
    with pytest.raises(RolesUnavailable):
        cat.role("clinical_pharmacist")  # the trial fails: open again
    assert calls == 4
    with pytest.raises(RolesUnavailable) as refused:
        cat.role("clinical_pharmacist")
    assert refused.value.extra == {"reason": "circuit-open"} and calls == 4


def test_an_answer_the_client_cannot_read_counts_as_a_failure_and_a_404_does_not() -> None:
    answers = iter([httpx.Response(500), httpx.Response(200, text="not json"), httpx.Response(404)])
    clock = ManualClock()
    cat = catalogue(lambda _: next(answers), breaker=CircuitBreaker(failure_threshold=3, cool_down_s=30, clock=clock))
    for _ in range(2):
        with pytest.raises(RolesUnavailable):
            cat.role("clinical_pharmacist")
    assert cat.role("clinical_pharmacist") is None  # no such role: the service answered
    assert state_of(cat.breaker) == "closed"
