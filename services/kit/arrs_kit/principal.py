"""The verified principal the gateway forwards, and how services check and read it.

The gateway authenticates the caller and sends, with every request it forwards:

- ``X-ARRS-Principal: kind;client_id;ORG1,ORG2;display%20name``
- ``X-ARRS-Principal-Issued``: the Unix time it signed at
- ``X-ARRS-Principal-Nonce``: 128 random bits, used once
- ``Content-Digest: sha-256=:<base64>:`` (RFC 9530): the SHA-256 of the exact body bytes
- ``X-ARRS-Principal-Signature``: HMAC-SHA256, under the shared gateway secret, of the principal,
  the method, the path, the raw query string, the time, the nonce, the body digest and the
  request id.

Whoever signs uses one secret; a verifier may accept a few (``other_secrets``: the next or the
previous secret while the shared one is rotated), so the secret changes without refusing a request.

Services believe nothing else (:mod:`arrs_kit.signed`). A captured header set is good for exactly
one request: the same method, path, query and body, within ``MAX_SKEW_S`` seconds, once (services
remember the nonces they have accepted for the whole window).

A principal's kind is opaque here: the gateway defines the kinds of client it registers, and each
service names the kinds it accepts (``kinds=`` when verifying) and what each may do
(:func:`kinds_allowed`). The kit only requires a kind to be a plain lower-case token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Container, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, unquote

import httpx
from fastapi import Depends, Request

from arrs_kit.problems import Forbidden, Unauthenticated

PRINCIPAL_HEADER = "x-arrs-principal"
ISSUED_HEADER = "x-arrs-principal-issued"
NONCE_HEADER = "x-arrs-principal-nonce"
SIGNATURE_HEADER = "x-arrs-principal-signature"
DIGEST_HEADER = "content-digest"
REQUEST_ID_HEADER = "x-request-id"
MAX_SKEW_S = 60

# A kind is a token the gateway and the services agree on; it must not hold the header's separators.
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_DIGEST = re.compile(r"^sha-256=:([A-Za-z0-9+/]{43}=):$")
EMPTY_BODY_DIGEST = hashlib.sha256(b"").digest()


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str
    client_id: str
    org_codes: tuple[str, ...] = ()
    name: str = ""

    @property
    def actor(self) -> str:
        """What a record stores and shows as who changed it: the client's display name, never its
        internal id (an id is a login name at the token endpoint), except for clients with no name."""
        return self.name or self.client_id

    def encode(self) -> str:
        return f"{self.kind};{self.client_id};{','.join(self.org_codes)};{quote(self.name, safe='')}"


def decode_principal(value: str, kinds: Container[str] | None = None) -> Principal | None:
    """The principal of an ``X-ARRS-Principal`` value, or None when it is malformed or (with ``kinds``)
    of a kind the reader does not know."""
    parts = value.split(";")
    if len(parts) != 4 or not _KIND.match(parts[0]) or not parts[1]:
        return None
    if kinds is not None and parts[0] not in kinds:
        return None
    orgs = tuple(code for code in parts[2].split(",") if code)
    return Principal(kind=parts[0], client_id=parts[1], org_codes=orgs, name=unquote(parts[3]))


def digest_header(digest: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` value of a SHA-256 ``digest``."""
    return f"sha-256=:{base64.b64encode(digest).decode()}:"


def parse_digest_header(value: str | None) -> bytes | None:
    match = _DIGEST.match(value or "")
    return base64.b64decode(match.group(1)) if match else None


def sign(
    value: str,
    *,
    method: str,
    path: str,
    query: str,
    issued: str,
    nonce: str,
    digest: str,
    request_id: str,
    secret: str,
) -> str:
    message = "\n".join(
        ("arrs-principal-v2", value, method.upper(), path, query, issued, nonce, digest, request_id)
    ).encode("utf-8", "surrogateescape")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def principal_headers(
    principal: Principal,
    secret: str,
    *,
    method: str,
    path: str,
    query: str = "",
    body_digest: bytes = EMPTY_BODY_DIGEST,
    request_id: str = "",
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that vouch for ``principal`` on exactly one request.

    ``path`` is the decoded path the service routes on, ``query`` the raw query string as sent,
    ``body_digest`` the SHA-256 of the exact body bytes and ``request_id`` the ``X-Request-ID`` sent
    with it (empty when none is)."""
    value = principal.encode()
    issued = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    digest = digest_header(body_digest)
    signature = sign(
        value,
        method=method,
        path=path,
        query=query,
        issued=issued,
        nonce=nonce,
        digest=digest,
        request_id=request_id,
        secret=secret,
    )
    return {
        PRINCIPAL_HEADER: value,
        ISSUED_HEADER: issued,
        NONCE_HEADER: nonce,
        DIGEST_HEADER: digest,
        SIGNATURE_HEADER: signature,
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request whose principal headers verified: who, which nonce (to spend once), until when it
    counts as fresh, and the body digest the body must still match."""

    principal: Principal
    nonce: str
    fresh_until: float
    body_digest: bytes


def verify_headers(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    query: str,
    secret: str,
    now: float | None = None,
    kinds: Container[str] | None = None,
    other_secrets: Sequence[str] = (),
) -> SignedRequest | None:
    """Check the signature over the headers (not the body, nor whether the nonce was used before).
    It verifies under ``secret`` or any of ``other_secrets`` (accepted, never used to sign). With
    ``kinds``, a principal of any other kind does not verify either."""
    value = headers.get(PRINCIPAL_HEADER)
    issued = headers.get(ISSUED_HEADER)
    nonce = headers.get(NONCE_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    digest = headers.get(DIGEST_HEADER)
    if not value or not issued or not signature or not issued.isdigit() or len(issued) > 12:
        return None
    if not nonce or not _NONCE.match(nonce):
        return None
    body_digest = parse_digest_header(digest)
    if body_digest is None or digest is None:
        return None
    clock = time.time() if now is None else now
    if abs(clock - int(issued)) > MAX_SKEW_S:
        return None
    request_id = headers.get(REQUEST_ID_HEADER, "")

    def signed_under(key: str) -> bool:
        expected = sign(
            value,
            method=method,
            path=path,
            query=query,
            issued=issued,
            nonce=nonce,
            digest=digest,
            request_id=request_id,
            secret=key,
        )
        return hmac.compare_digest(expected, signature)

    if not any(signed_under(key) for key in (secret, *other_secrets)):
        return None
    principal = decode_principal(value, kinds)
    if principal is None:
        return None
    return SignedRequest(principal, nonce, int(issued) + MAX_SKEW_S + 1, body_digest)


class PrincipalAuth(httpx.Auth):
    """Signs each request of an httpx client as ``principal``: for service-to-service calls and tests.

    It signs the request as it will be sent (final path, raw query, exact body bytes and request id),
    with a new nonce every time, so retries are signed afresh."""

    requires_request_body = True

    def __init__(self, principal: Principal, secret: str) -> None:
        self.principal = principal
        self.secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            principal_headers(
                self.principal,
                self.secret,
                method=request.method,
                path=request.url.path,
                query=request.url.query.decode("latin-1"),
                body_digest=hashlib.sha256(request.content).digest(),
                request_id=request.headers.get(REQUEST_ID_HEADER, ""),
            )
        )
        yield request


async def get_principal(request: Request) -> Principal:
    """The principal :class:`arrs_kit.signed.SignedPrincipalMiddleware` verified for this request.

    A coroutine, as every dependency that does no I/O is: FastAPI runs a plain function dependency in
    a worker thread, a hop that costs more than the work."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthenticated(
            "This service answers only requests the gateway has authenticated.",
            headers={"WWW-Authenticate": 'ApiKey realm="arrs"'},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def kinds_allowed(kinds: Collection[str], detail: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that hands on a principal of one of ``kinds`` and answers any other 403 ``detail``:
    each service builds its own (``AdminDep``, ``ReaderDep``) from the kinds it defines."""
    allowed = frozenset(kinds)

    async def allowed_kind(principal: PrincipalDep) -> Principal:
        if principal.kind not in allowed:
            raise Forbidden(detail)
        return principal

    return allowed_kind
