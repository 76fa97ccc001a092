"""What the budget service's routes depend on, defined once: path and query types, ``If-Match``, the
role catalogue client, and the resources a route acts on, loaded and authorised (domain §8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from budget.clients.roles import RoleCatalogue
from budget.schemas.common import PCN_CODE_PATTERN, PRACTICE_CODE_PATTERN
from budget.service.common import ID_MAX

PcnCodePath = Annotated[
    str, Path(pattern=PCN_CODE_PATTERN, description="PCN code, `U` and 5 digits (any case).", examples=["U12345"])
]
PracticeCodePath = Annotated[
    str,
    Path(
        pattern=PRACTICE_CODE_PATTERN,
        description="Practice code, a letter and 5 digits (any case).",
        examples=["A81001"],
    ),
]
FyPath = Annotated[str, Path(min_length=7, max_length=7, description="Financial year `YYYY-YY`.", examples=["2024-25"])]
PostIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The post's id.", examples=[1])]
# The claim paths take `{claim_id:int}` (digits only), so `/v1/claims/preview` is never read as a claim id:
# `GET` or `PATCH /v1/claims/preview` is 405, not a 422 about the id. A path that is no id at all is 404.
ClaimIdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="The claim's id.", examples=[1])]

FyQuery = Annotated[
    str, Query(min_length=7, max_length=7, description="Financial year `YYYY-YY` (required).", examples=["2024-25"])
]

IfMatchRequired = Annotated[str | None, Header(description="The ETag you last read (required).")]
IfMatchOptional = Annotated[
    str | None, Header(description="The ETag you last read; when sent, the change is refused if it is stale.")
]
IfMatchPlan = Annotated[
    str | None,
    Header(description="The plan's ETag you last read: required to replace a plan, absent to create the first one."),
]


def _catalogue(request: Request) -> RoleCatalogue:
    catalogue: RoleCatalogue = request.app.state.catalogue
    return catalogue


CatalogueDep = Annotated[RoleCatalogue, Depends(_catalogue)]
"""The role catalogue's client, made once per app (:func:`budget.main.create_app`)."""
