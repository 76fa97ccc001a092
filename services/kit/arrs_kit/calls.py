"""The HTTP client one app uses to read from another: idempotent reads retried, every call traced.

A ``GET`` (or ``HEAD``) that fails before the other app can have seen it — the connection refused or
timed out, or a pooled connection found closed — is tried again, at most ``retries`` times, after a
short exponential backoff with full jitter (``httpx-retries``), never longer than a second per wait
nor two seconds in all. Answers are not retried, 503 included: every call carries a signed,
single-use nonce, and a request the other app has already answered would be refused as a replay.
The caller's own breaker, cache or fallback decides what a final failure means.
"""

from __future__ import annotations

import httpx
from httpx_retries import Retry, RetryTransport

from arrs_kit.tracing import Tracing, TracingTransport

NOT_RECEIVED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
"""Failures that mean the request was not processed: safe to send again."""

READS = ("GET", "HEAD")


class ReadRetry(Retry):
    """Retries only what did not arrive; any answer, whatever its status, is the answer."""

    def is_retryable_status_code(self, status_code: int) -> bool:
        return False


def read_retry(retries: int = 2) -> ReadRetry:
    return ReadRetry(
        total=retries,
        allowed_methods=READS,
        retry_on_exceptions=NOT_RECEIVED,
        backoff_factor=0.1,
        backoff_jitter=1.0,
        max_backoff_wait=1.0,
        total_timeout=2.0,
    )


def internal_client(
    base_url: str,
    *,
    peer: str,
    timeout: httpx.Timeout | float,
    limits: httpx.Limits | None = None,
    retries: int = 2,
    tracing: Tracing | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A blocking client of the app ``peer`` at ``base_url``. ``transport``: the innermost transport
    (tests put the other app in-process); by default a pooled HTTP/1.1 transport with ``limits``."""
    inner: httpx.BaseTransport = transport or httpx.HTTPTransport(limits=limits or httpx.Limits())
    if tracing is not None:
        inner = TracingTransport(inner, tracing=tracing, peer=peer)
    outer = RetryTransport(transport=inner, retry=read_retry(retries)) if retries > 0 else inner
    return httpx.Client(base_url=base_url, timeout=timeout, transport=outer, trust_env=False)
