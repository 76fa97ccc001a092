"""The HTTP protocol the gateway is served with: uvicorn's httptools protocol, whose only answer of its
own (400 to a request it cannot parse) is a problem+json like every other answer of the platform.

Serve with ``uvicorn --http gateway.server:ProblemHttpToolsProtocol --no-proxy-headers …``: the
gateway decides itself which ``X-Forwarded-For`` to believe (``GATEWAY_TRUSTED_PROXIES``).
"""

from __future__ import annotations

import json
import uuid

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from arrs_kit.problems import PROBLEM_MEDIA_TYPE


def malformed_request_body() -> bytes:
    return json.dumps(
        {
            "type": "/problems/malformed-request",
            "title": "Bad Request",
            "status": 400,
            "detail": "The request is not valid HTTP/1.1.",
            "instance": None,
            "request_id": uuid.uuid4().hex,
        }
    ).encode()


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = malformed_request_body()
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
