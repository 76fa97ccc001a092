"""The HTTP client one app uses to read from another: idempotent reads retried, every call traced.

A ``GET`` (or ``HEAD``) whose connection was refused — it cannot have reached the other app — is
tried again, at most ``retries`` times, after a short exponential backoff with full jitter
(``httpx-retries``: 0–0.2 s, then 0–0.4 s). Nothing else is retried:

- an answer, 503 included, and a connection that broke after the request was sent: every call carries
  a signed, single-use nonce, and a request the other app has already seen would be refused as a
  replay;
- a connect timeout: each attempt would take the caller's whole timeout again, so a read configured to
  give up after a few seconds would take several times that.

The caller's own breaker, cache or fallback decides what a final failure means.
"""

from __future__ import annotations

import httpx
from httpx_retries import Retry, RetryTransport

from arrs_kit.tracing import Tracing, TracingTransport

NOT_RECEIVED = (httpx.ConnectError,)
"""The failure that means the request was not sent at all: safe to send again, quickly."""

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
