"""Prometheus metrics, served by every app at ``/metrics`` (the gateway's on a port of its own).

Each app runs as one process, so the default registry is the app's. The kit records what every app
has: requests by route template, method and status (a count and a latency histogram) and the use of
each database's connection pool. An app adds its own counters with :func:`counter`; a count that
describes a database change is taken with :func:`count_on_commit`, so a transaction that rolls back
counts nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.responses import Response

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "arrs_http_requests",
    "Requests answered, by app, route template, method and status.",
    ["service", "route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "arrs_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by app, route template, method and status.",
    ["service", "route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)

_counters: dict[str, Counter] = {}


def counter(name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
    """The counter ``name``, made once per process (apps built again in one process share it)."""
    existing = _counters.get(name)
    if existing is None:
        existing = _counters[name] = Counter(name, documentation, list(labels))
    return existing


_series: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The method as a label: any other token a client sends (PROPFIND, M-SEARCH…) is ``OTHER``."""
    return method if method in METHODS else "OTHER"


def observe_request(service: str, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency (the series' children are kept: a lookup per request)."""
    method = method_label(method)
    key = (service, route, method, status)
    children = _series.get(key)
    if children is None:
        labels = (service, route, method, str(status))
        children = _series[key] = (REQUESTS.labels(*labels), REQUEST_SECONDS.labels(*labels))
    children[0].inc()
    children[1].observe(seconds)


def route_of(scope: MutableMapping[str, Any]) -> str:
    """The matched route's template (``/v1/posts/{post_id}``), never the raw path: one series per route."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    state = scope.get("state") or {}
    named = state.get("route_template")
    return named if isinstance(named, str) else "unmatched"


# Counts that wait for their transaction: ``session.info[_PENDING]`` until commit, dropped on rollback.
_PENDING = "arrs_metrics_pending"


def count_on_commit(session: Session, metric: Counter, amount: float = 1.0, **labels: str) -> None:
    """Add ``amount`` to ``metric`` (with ``labels``) when ``session``'s transaction commits."""
    pending: list[tuple[Counter, dict[str, str], float]] = session.info.setdefault(_PENDING, [])
    pending.append((metric, labels, amount))


@event.listens_for(Session, "after_commit")
def _counted(session: Session) -> None:
    session.info.pop(_MARKS, None)
    for metric, labels, amount in session.info.pop(_PENDING, ()):
        (metric.labels(**labels) if labels else metric).inc(amount)


_MARKS = "arrs_metrics_savepoints"


@event.listens_for(Session, "after_transaction_create")
def _marked(session: Session, transaction: Any) -> None:
    if transaction.nested:  # a savepoint: what was pending before it survives its rollback
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _dropped(session: Session, previous: Any) -> None:
    if not session.in_transaction():  # the outermost transaction rolled back: nothing of it counts
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)
        return
    mark = session.info.get(_MARKS, {}).pop(id(previous), None)
    if mark is not None and _PENDING in session.info:  # a savepoint rolled back: drop what it counted
        del session.info[_PENDING][mark:]


class PoolCollector(Collector):
    """Connection-pool use of every database an app opened: size, checked out, overflow."""

    def __init__(self) -> None:
        self._pools: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

    def watch(self, service: str, engine: Any) -> None:
        self._pools[service] = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("arrs_db_pool_size", "Connections the pool keeps open.", labels=["service"])
        out = GaugeMetricFamily("arrs_db_pool_checked_out", "Connections in use by requests.", labels=["service"])
        over = GaugeMetricFamily(
            "arrs_db_pool_overflow",
            "Connections open beyond the pool's size (negative: not yet opened).",
            labels=["service"],
        )
        capacity = GaugeMetricFamily(
            "arrs_db_pool_capacity",
            "Most connections the pool opens (its size plus its overflow): at it, a request waits for one.",
            labels=["service"],
        )
        for service, engine in list(self._pools.items()):
            pool = engine.pool
            for family, reading in ((size, "size"), (out, "checkedout"), (over, "overflow")):
                read = getattr(pool, reading, None)
                if callable(read):
                    family.add_metric([service], float(read()))
            if callable(getattr(pool, "size", None)):
                capacity.add_metric([service], float(pool.size() + max(getattr(pool, "_max_overflow", 0), 0)))
        yield from (size, out, over, capacity)


POOLS = PoolCollector()
REGISTRY.register(POOLS)


def metrics_response() -> Response:
    """The process's metrics in Prometheus's text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
