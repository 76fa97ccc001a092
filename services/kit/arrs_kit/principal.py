"""The verified principal the gateway forwards, and the dependencies services use to read it.

The gateway authenticates the caller and sends, with every request it forwards:

- ``X-ARRS-Principal: kind;client_id;ORG1,ORG2``
- ``X-ARRS-Principal-Issued``: the Unix time it signed at
- ``X-ARRS-Principal-Signature``: HMAC-SHA256, under the shared gateway secret, of the principal,
  the method, the path and that time.

Services believe nothing else. A request without a valid signature is unauthenticated, so forged
headers sent straight to a service are refused; a captured header set is good only for the same
method and path, and only for ``MAX_SKEW_S`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from arrs_kit.problems import Forbidden, Unauthenticated

PRINCIPAL_HEADER = "x-arrs-principal"
ISSUED_HEADER = "x-arrs-principal-issued"
SIGNATURE_HEADER = "x-arrs-principal-signature"
MAX_SKEW_S = 60

PrincipalKind = Literal["admin", "icb", "pcn", "practice_system", "dashboard"]
PRINCIPAL_KINDS: tuple[str, ...] = ("admin", "icb", "pcn", "practice_system", "dashboard")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str
    client_id: str
    org_codes: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    def encode(self) -> str:
        return f"{self.kind};{self.client_id};{','.join(self.org_codes)}"


def sign(value: str, method: str, path: str, issued: str, secret: str) -> str:
    message = f"{value}\n{method.upper()}\n{path}\n{issued}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def principal_headers(
    principal: Principal, secret: str, *, method: str, path: str, now: float | None = None
) -> dict[str, str]:
    """The headers that vouch for ``principal`` on one request (``path`` as the service will see it)."""
    value = principal.encode()
    issued = str(int(time.time() if now is None else now))
    return {
        PRINCIPAL_HEADER: value,
        ISSUED_HEADER: issued,
        SIGNATURE_HEADER: sign(value, method, path, issued, secret),
    }


def verify_principal(
    value: str | None,
    issued: str | None,
    signature: str | None,
    *,
    method: str,
    path: str,
    secret: str,
    now: float | None = None,
) -> Principal | None:
    if not value or not issued or not signature or not issued.isdigit():
        return None
    clock = time.time() if now is None else now
    if abs(clock - int(issued)) > MAX_SKEW_S:
        return None
    if not hmac.compare_digest(sign(value, method, path, issued, secret), signature):
        return None
    parts = value.split(";")
    if len(parts) != 3 or parts[0] not in PRINCIPAL_KINDS or not parts[1]:
        return None
    orgs = tuple(code for code in parts[2].split(",") if code)
    return Principal(kind=parts[0], client_id=parts[1], org_codes=orgs)


def get_principal(request: Request) -> Principal:
    secret: str = request.app.state.settings.gateway_secret.get_secret_value()
    principal = verify_principal(
        request.headers.get(PRINCIPAL_HEADER),
        request.headers.get(ISSUED_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        method=request.method,
        path=request.scope["path"],
        secret=secret,
    )
    if principal is None:
        raise Unauthenticated(
            "This service answers only requests the gateway has authenticated.",
            headers={"WWW-Authenticate": 'ApiKey realm="arrs"'},
        )
    request.scope.setdefault("state", {})["principal_id"] = principal.client_id
    return principal


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin client may do this.")
    return principal


def require_reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Any client but a practice system, which may only post workload and list sizes (domain.md §8)."""
    if principal.kind == "practice_system":
        raise Forbidden("A practice-system client may only post workload and list sizes for its own practices.")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
ReaderDep = Annotated[Principal, Depends(require_reader)]
AdminDep = Annotated[Principal, Depends(require_admin)]
