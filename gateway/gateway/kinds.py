"""The kinds of API client the gateway registers (domain.md §8). The gateway defines them: it stores a
client's kind, limits its rate by kind and signs it into the principal it forwards; each service
names the kinds it accepts and what each may do."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field
from typing_extensions import TypeAliasType

Kind = Literal["admin", "icb", "pcn", "practice_system", "dashboard"]
ClientKind = TypeAliasType(
    "ClientKind",
    Annotated[
        Kind,
        Field(
            title="ClientKind",
            description="What an API client is, which decides what it may do (domain §8): `admin`, `icb`, `pcn`, "
            "`practice_system` or `dashboard` (read-only).",
        ),
    ],
)
CLIENT_KINDS: tuple[str, ...] = get_args(Kind)
ADMIN: ClientKind = "admin"
