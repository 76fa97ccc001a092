"""Checks at the public edge, before any other work: header limits, dot segments, the client's
address behind trusted proxies, and WebSocket upgrades (the platform has none).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from urllib.parse import unquote

from starlette.types import Message, Receive, Scope, Send

from arrs_kit.problems import PROBLEM_MEDIA_TYPE, problem_body


def header_limits(headers: list[tuple[bytes, bytes]], max_count: int, max_bytes: int) -> str | None:
    """Why the request's headers are refused (431), or None. Linear in the headers, stops early."""
    if len(headers) > max_count:
        return f"A request may carry at most {max_count} header fields; this one has {len(headers)}."
    total = 0
    for key, value in headers:
        total += len(key) + len(value) + 4  # "name: value\r\n" as on the wire
        if total > max_bytes:
            return f"A request's header fields may total at most {max_bytes} bytes."
    return None


def has_dot_segment(path: str) -> bool:
    """Whether ``path`` has a ``.`` or ``..`` segment, however many times percent-encoded.

    An upstream client normalises dot segments, so ``/v1/roles/../../docs`` would be routed as a
    roles path and then reach ``/docs``; such a path is refused before routing instead."""
    for segment in path.split("/"):
        for _ in range(4):  # %252e%252e → %2e%2e → ..
            if segment in (".", ".."):
                return True
            decoded = unquote(segment)
            if decoded == segment:
                break
            segment = decoded
    return False


class TrustedProxies:
    """The client's address: the peer's, unless the peer is a configured proxy, in which case the
    nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy."""

    def __init__(self, networks: Sequence[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def source_of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        if not self.networks or not self._trusted(peer):
            return peer
        forwarded: list[str] = []
        for key, value in scope["headers"]:
            if key == b"x-forwarded-for":
                forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
        for address in reversed(forwarded):
            if not self._trusted(address):
                try:
                    return str(ipaddress.ip_address(address))
                except ValueError:
                    return peer  # a proxy we trust sent garbage: believe only the proxy
        return peer


async def refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """The platform has no WebSocket endpoint: answer a problem+json where the server allows a
    denial response (the ASGI ``websocket.http.response`` extension), else close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps(
        problem_body(
            status=404,
            code="websocket-not-supported",
            detail="The platform has no WebSocket endpoints; use HTTP.",
            instance=scope.get("path"),
        )
    ).encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 404,
            "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


def limited_receive(receive: Receive, limit: int) -> Receive:
    """A receive that refuses to deliver more than ``limit`` body bytes (for bodies without a length)."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return limited
