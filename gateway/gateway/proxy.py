"""The forwarding hot path, in pure ASGI: one pooled ``httpx.AsyncClient`` per upstream, headers
passed through as bytes, bodies streamed both ways without re-encoding.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.types import Receive, Scope, Send

from arrs_kit.problems import PROBLEM_MEDIA_TYPE, problem_body

log = logging.getLogger("arrs.gateway")

# RFC 9110 §7.6.1 hop-by-hop headers, plus what the gateway sets itself.
_DROP_REQUEST = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"host",
    b"x-api-key",
    b"apikey",
    b"authorization",
    b"x-arrs-principal",
    b"x-arrs-principal-issued",
    b"x-arrs-principal-signature",
    b"x-request-id",
    b"x-correlation-id",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"forwarded",
    b"x-real-ip",
}
_DROP_RESPONSE = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"x-request-id",
    b"server",
    b"date",
}


def make_client(
    base_url: str,
    *,
    timeout_s: float,
    connect_timeout_s: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s, pool=connect_timeout_s),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        # A shared client must not keep upstream cookies and replay them on other callers' requests.
        cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
    )
    # Forward what the caller sent, not httpx's defaults (Accept-Encoding, User-Agent, ...).
    client.headers = httpx.Headers()
    return client


async def send_problem(
    send: Send, status: int, code: str, detail: str, instance: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(problem_body(status=status, code=code, detail=detail, instance=instance)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def forward(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    client: httpx.AsyncClient,
    upstream: str,
    extra_headers: list[tuple[bytes, bytes]],
    request_id: str,
    max_buffered_body_bytes: int,
) -> None:
    """Forward one request to ``client``'s upstream and relay the answer."""
    headers: list[tuple[bytes, bytes]] = []
    content_length: int | None = None
    chunked = False
    for key, value in scope["headers"]:
        if key in _DROP_REQUEST:
            if key == b"transfer-encoding":
                chunked = True
            continue
        if key == b"content-length":
            try:
                content_length = int(value)
            except ValueError:
                await send_problem(send, 400, "bad-request", "Content-Length is not a number.", scope["path"])
                return
        headers.append((key, value))
    headers.extend(extra_headers)
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    client_addr = scope.get("client")
    if client_addr:
        headers.append((b"x-forwarded-for", str(client_addr[0]).encode("latin-1")))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))

    content: bytes | AsyncIterator[bytes]
    if chunked or (content_length is not None and content_length > max_buffered_body_bytes):
        content = _stream_body(receive)
    elif content_length:
        content = await _read_body(receive)
    else:
        content = b""

    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    request = client.build_request(scope["method"], target, headers=headers, content=content)
    try:
        response = await client.send(request, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        log.warning("upstream unavailable", extra={"upstream": upstream, "error": type(exc).__name__})
        await send_problem(
            send,
            503,
            "upstream-unavailable",
            f"The {upstream} service is not reachable; try again shortly.",
            scope["path"],
            [(b"retry-after", b"5")],
        )
        return
    except httpx.TimeoutException as exc:
        log.warning("upstream timeout", extra={"upstream": upstream, "error": type(exc).__name__})
        await send_problem(
            send, 504, "upstream-timeout", f"The {upstream} service did not answer in time.", scope["path"]
        )
        return
    except httpx.TransportError as exc:
        log.warning("upstream failed", extra={"upstream": upstream, "error": type(exc).__name__})
        await send_problem(send, 502, "bad-gateway", f"The {upstream} service broke the connection.", scope["path"])
        return

    try:
        out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _DROP_RESPONSE]
        started = False
        try:
            async for chunk in response.aiter_raw():
                if not started:
                    await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
                    started = True
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.TransportError as exc:
            log.warning("upstream broke mid-response", extra={"upstream": upstream, "error": type(exc).__name__})
            if started:
                raise  # headers are out: the server can only cut the connection
            if isinstance(exc, httpx.TimeoutException):
                await send_problem(
                    send, 504, "upstream-timeout", f"The {upstream} service did not answer in time.", scope["path"]
                )
            else:
                await send_problem(
                    send, 502, "bad-gateway", f"The {upstream} service broke the connection.", scope["path"]
                )
            return
        if not started:
            await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await response.aclose()
