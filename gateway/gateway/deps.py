"""Dependencies of the gateway's own endpoints: the gateway object, the caller the dispatcher
authenticated, and the admin check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from arrs_kit.principal import Principal
from arrs_kit.problems import Forbidden, Unauthenticated
from gateway.kinds import ADMIN

if TYPE_CHECKING:
    from gateway.main import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def current_principal(request: Request) -> Principal:
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is None:  # the dispatcher authenticates every /v1 request first
        raise Unauthenticated("Authentication required.")
    return principal


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.kind != ADMIN:
        raise Forbidden("Only an admin client may manage API clients and read the audit log.")
    return principal


AdminDep = Annotated[Principal, Depends(admin_principal)]
