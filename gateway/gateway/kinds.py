"""The kinds of API client the gateway registers (domain.md §8). The gateway defines them: it stores a
client's kind, limits its rate by kind and signs it into the principal it forwards; each service
names the kinds it accepts and what each may do."""

from __future__ import annotations

from typing import Literal, get_args

ClientKind = Literal["admin", "icb", "pcn", "practice_system", "dashboard"]
CLIENT_KINDS: tuple[str, ...] = get_args(ClientKind)
ADMIN: ClientKind = "admin"
