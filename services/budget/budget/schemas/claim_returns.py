"""Bodies of monthly claim returns (domain §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import NoControlCharacters
from budget.schemas import examples
from budget.schemas.claims import ClaimMonth, ClaimPay, ClaimPublic, ClaimReject
from budget.schemas.common import PcnCode, Strict, Timestamp
from budget.schemas.posts import EmployerCode

ClaimReturnStatus = TypeAliasType(
    "ClaimReturnStatus",
    Annotated[
        Literal["open", "submitted", "paid"],
        Field(
            title="ClaimReturnStatus",
            description="A monthly return: `open` (its lines may change), `submitted` (whole, to the ICB), `paid`.",
        ),
    ],
)
ClaimIds = Annotated[
    list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
    Field(min_length=1, max_length=500, description="The lines (claim ids) to act on; left out: every line it can."),
]


class ClaimReturnCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"pcn_code": "U12345", "month": "2024-10", "payee_code": "A81001"}]},
    )

    pcn_code: PcnCode
    month: ClaimMonth
    payee_code: EmployerCode = Field(description="The ODS code of the PCN's payee (its nominated payee practice).")


class ReturnDeclaration(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"declaration": "I declare the staff claimed for were employed as stated and are not in the baseline."}
            ]
        },
    )

    declaration: Annotated[str, Field(min_length=10, max_length=4000), NoControlCharacters]


class ReturnLinesApprove(Strict):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.RETURN_LINES_APPROVE))

    claim_ids: ClaimIds | None = None


class ReturnLinesReject(ClaimReject):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.RETURN_LINES_REJECT))

    claim_ids: ClaimIds | None = None


class ReturnPay(ClaimPay):
    """One payment reference for every approved line of the return."""

    model_config = ConfigDict(json_schema_extra=schema_examples(examples.RETURN_PAY))


class ReturnTotals(BaseModel):
    lines: int
    reimbursable_pence: int = Field(description="What the lines not rejected come to.")
    by_status: dict[str, int] = Field(description="Lines per claim status.")


class ClaimReturnPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.CLAIM_RETURN))

    id: int
    pcn_code: str
    month: str
    fy: str
    payee_code: str
    status: ClaimReturnStatus
    declaration: str | None
    declared_by: str | None
    declared_at: datetime | None
    submitted_by: str | None
    submitted_at: datetime | None
    payment_reference: str | None
    paid_by: str | None
    paid_at: datetime | None
    totals: ReturnTotals
    lines: list[ClaimPublic] = Field(description="The month's claims of the PCN (all but withdrawn ones), by id.")
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class ReturnPage(Page[ClaimReturnPublic]):
    """A page of claim returns."""
