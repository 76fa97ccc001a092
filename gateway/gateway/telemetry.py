"""The gateway's own metrics: its upstreams' latency and failures, and the requests it refuses with 429.

Requests are counted by the kit's middleware like every app's. A proxied request is labelled with its
resource (``/v1/claims/…``), not its full template: the gateway routes by the first segment and does
not know the owning service's templates, which that service's own metrics carry. So the number of
series stays bounded, whatever paths clients send.
"""

from __future__ import annotations

from prometheus_client import Histogram

from arrs_kit.metrics import LATENCY_BUCKETS, counter
from gateway.routing import ROUTES

UPSTREAM_SECONDS = Histogram(
    "arrs_gateway_upstream_duration_seconds",
    "Time from sending a request to an upstream service to its answer's headers, by upstream and status.",
    ["upstream", "status"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = counter(
    "arrs_gateway_upstream_errors",
    "Upstream calls that failed without an answer: unreachable (503), timeout (504), broken (502).",
    ("upstream", "error"),
)
REFUSED = counter(
    "arrs_gateway_rate_limited",
    "Requests refused with 429: by a client's rate limit (by its kind), or by too many failed authentications.",
    ("kind", "reason"),
)

AUDIT_FAILURES = counter(
    "arrs_gateway_audit_failures",
    "State changes whose audit row could not be written (the log holds the event).",
    (),
)


def route_label(path: str) -> str:
    """``/v1/<resource>`` for a routed path (with ``/…`` when it goes deeper), else ``unmatched``."""
    end = path.find("/", 4)
    resource = path[4:] if end == -1 else path[4:end]
    if resource not in ROUTES:
        return "unmatched"
    return f"/v1/{resource}" if end == -1 or end == len(path) - 1 else f"/v1/{resource}/…"
