"""Bodies of operating-plan readiness: nine areas × four lenses (domain.md §7)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arrs_kit.openapi import schema_examples
from arrs_kit.pagination import Page
from arrs_kit.types import BoundedDate, NoControlCharacters
from evaluation import examples


class Area(StrEnum):
    """An area of the operating-plan readiness grid."""

    SUPERVISION_AND_TRAINING = "supervision_and_training"
    LINE_MANAGEMENT = "line_management"
    ESTATES = "estates"
    EQUIPMENT_AND_IT = "equipment_and_it"
    EMPLOYMENT_MODEL = "employment_model"
    HR_ADMINISTRATION = "hr_administration"
    ROSTERING_AND_MDT_WORKING = "rostering_and_mdt_working"
    QUALITY_AND_GOVERNANCE = "quality_and_governance"
    FINANCIAL_MANAGEMENT = "financial_management"


class Lens(StrEnum):
    """A lens of the operating-plan readiness grid."""

    WORKFORCE = "workforce"
    OPERATIONS = "operations"
    ORGANISATIONAL = "organisational"
    DEMOGRAPHIC = "demographic"


class ReadinessStatus(StrEnum):
    """How far a cell of the readiness grid is in place."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    IN_PLACE = "in_place"


Owner = Annotated[str, Field(min_length=1, max_length=200), NoControlCharacters]
Note = Annotated[str, Field(min_length=1, max_length=2000), NoControlCharacters]


class Cell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: Area
    lens: Lens
    status: ReadinessStatus
    owner: Owner | None = Field(None, description="Who in the PCN owns this.")
    due_date: BoundedDate | None = Field(None, description="When it is due to be in place.")
    note: Note | None = None


class ReadinessBody(BaseModel):
    """The assessment, replaced whole. Cells left out are `not_started` with no owner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cells": [
                        {
                            "area": "supervision_and_training",
                            "lens": "workforce",
                            "status": "in_progress",
                            "owner": "Clinical director",
                            "due_date": "2025-06-30",
                            "note": "Two GP supervisors agreed; rota to follow.",
                        }
                    ]
                }
            ]
        },
    )

    cells: Annotated[list[Cell], Field(max_length=36)]

    @model_validator(mode="after")
    def _each_cell_once(self) -> ReadinessBody:
        keys = [(c.area, c.lens) for c in self.cells]
        if len(set(keys)) != len(keys):
            raise ValueError("each (area, lens) at most once")
        return self


class CellPublic(BaseModel):
    area: Area
    lens: Lens
    status: ReadinessStatus
    owner: str | None
    due_date: date | None
    note: str | None
    overdue: bool = Field(description="Due before today and not yet in place.")


class Summary(BaseModel):
    in_place: int
    in_progress: int
    not_started: int
    overdue: int
    percent_in_place: str = Field(description="Share of the 36 cells in place, one decimal.")


class ReadinessPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra=schema_examples(examples.READINESS))

    pcn_code: str
    version: int = Field(description="0 when nothing has been recorded yet (every cell `not_started`).")
    cells: list[CellPublic] = Field(description="All 36 cells, area by area, lens by lens.")
    summary: Summary
    by_area: dict[str, Summary]
    recorded_at: datetime | None
    recorded_by: str | None


class ReadinessVersionPage(Page[ReadinessPublic]):
    """A page of a PCN's readiness versions, newest first."""


def stored(cells: list[Cell]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in cells]
