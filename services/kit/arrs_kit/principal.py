"""The verified principal the gateway forwards, and the dependencies services use to read it.

The gateway authenticates the caller and sends ``X-ARRS-Principal: kind;client_id;ORG1,ORG2`` with
``X-ARRS-Principal-Signature``, an HMAC-SHA256 of that value under the shared gateway secret.
Services believe nothing else: a request without a valid signature is unauthenticated, so forged
headers sent straight to a service are refused.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, Request

from arrs_kit.problems import Forbidden, Unauthenticated

PRINCIPAL_HEADER = "x-arrs-principal"
SIGNATURE_HEADER = "x-arrs-principal-signature"

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


def sign(value: str, secret: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def principal_headers(principal: Principal, secret: str) -> dict[str, str]:
    value = principal.encode()
    return {PRINCIPAL_HEADER: value, SIGNATURE_HEADER: sign(value, secret)}


@lru_cache(maxsize=4096)
def _verify(value: str, signature: str, secret: str) -> Principal | None:
    # Cached by (value, signature, secret): a verified pair stays verified; a wrong one stays wrong.
    if not hmac.compare_digest(sign(value, secret), signature):
        return None
    parts = value.split(";")
    if len(parts) != 3 or parts[0] not in PRINCIPAL_KINDS or not parts[1]:
        return None
    orgs = tuple(code for code in parts[2].split(",") if code)
    return Principal(kind=parts[0], client_id=parts[1], org_codes=orgs)


def verify_principal(value: str | None, signature: str | None, secret: str) -> Principal | None:
    if not value or not signature:
        return None
    return _verify(value, signature, secret)


def get_principal(request: Request) -> Principal:
    secret: str = request.app.state.settings.gateway_secret.get_secret_value()
    principal = verify_principal(request.headers.get(PRINCIPAL_HEADER), request.headers.get(SIGNATURE_HEADER), secret)
    if principal is None:
        raise Unauthenticated(
            "This service answers only requests the gateway has authenticated.",
            headers={"WWW-Authenticate": 'ApiKey realm="arrs", Bearer realm="arrs"'},
        )
    request.scope.setdefault("state", {})["principal_id"] = principal.client_id
    return principal


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin client may change the catalogue.")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]
