"""KPI attainment, drift and the reasons a post is at risk (domain.md §7), with no I/O.

Per period a KPI's measured value is compared with the target in force for that period:

- ``higher_is_better``: ``on_track`` if value ≥ target, ``at_risk`` if value ≥ target − 10% of |target|,
  else ``off_track``;
- ``lower_is_better``: ``on_track`` if value ≤ target, ``at_risk`` if value ≤ target + 10% of |target|,
  else ``off_track``.

The 10% band is of the target's magnitude, so a zero target has no band and a negative one behaves
like a positive one. A period the KPI covers with no measurement is ``missing``: it cannot be shown
to be on track.

A KPI's **timeline** runs from the earlier of its first measured period and the period it was created
in, to the later of its last measured period and the last *ended* period (a period is measured in
arrears: the current one is not yet due). **Drift** is the number of consecutive periods at the end
of the timeline that are not ``on_track``; a post with drift ≥ 2 on any active KPI is flagged.

A KPI has **no recent measurement** when the last two ended periods both lie in its timeline and
neither has a measurement (a KPI created last week is not yet overdue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from evaluation.periods import Frequency, last_ended, period_of, periods, previous_period

AT_RISK_BAND = Decimal("0.1")
DRIFT_FLAG = 2
PLACEHOLDER_NAMES = frozenset({"", "-", "n/a", "na", "none", "tbc", "tbd", "to be confirmed", "unknown", "vacant"})


class Direction(StrEnum):
    """Whether a higher or a lower value of a KPI is better."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Attainment(StrEnum):
    """A KPI's value for a period against its target: `on_track` (met), `at_risk` (missed by at most a
    tenth of the target), `off_track`, or `missing` (no value)."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    MISSING = "missing"


class RiskReason(StrEnum):
    """Why a post is at risk."""

    NO_JOB_PLAN = "no_job_plan"
    NO_KPI = "no_kpi"
    NO_NAMED_SUPERVISOR = "no_named_supervisor"
    NO_RECENT_MEASUREMENT = "no_recent_measurement"
    DRIFT = "drift"


def attainment(value: Decimal, target: Decimal, direction: Direction) -> Attainment:
    band = abs(target) * AT_RISK_BAND
    if direction is Direction.HIGHER_IS_BETTER:
        if value >= target:
            return Attainment.ON_TRACK
        return Attainment.AT_RISK if value >= target - band else Attainment.OFF_TRACK
    if value <= target:
        return Attainment.ON_TRACK
    return Attainment.AT_RISK if value <= target + band else Attainment.OFF_TRACK


def target_for(period: date, targets: Sequence[tuple[date, Decimal]]) -> Decimal:
    """The target in force for ``period``: the latest set from that period or before (the first one
    for periods before any), from ``targets`` sorted by their first period."""
    chosen = targets[0][1]
    for effective_from, target in targets:
        if effective_from > period:
            break
        chosen = target
    return chosen


@dataclass(frozen=True, slots=True)
class PeriodResult:
    period_start: date
    value: Decimal | None
    target: Decimal
    status: Attainment


@dataclass(frozen=True, slots=True)
class KpiResult:
    periods: tuple[PeriodResult, ...]
    drift: int
    overdue: bool  # no measurement in the last two ended periods

    @property
    def flagged(self) -> bool:
        return self.drift >= DRIFT_FLAG

    @property
    def latest(self) -> PeriodResult | None:
        return self.periods[-1] if self.periods else None


def evaluate_kpi(
    *,
    frequency: Frequency,
    direction: Direction,
    created_on: date,
    targets: Sequence[tuple[date, Decimal]],
    values: Mapping[date, Decimal],
    today: date,
) -> KpiResult:
    """Every period of the KPI's timeline with its status, its drift, and whether it is overdue."""
    ended = last_ended(today, frequency)
    start = period_of(created_on, frequency)
    first = min([start, *values])
    last = max([ended, *values])
    timeline = []
    chosen, following = targets[0][1], 0  # the target in force (target_for), kept as the periods advance
    for period in periods(first, last, frequency):
        while following < len(targets) and targets[following][0] <= period:
            chosen, following = targets[following][1], following + 1
        value = values.get(period)
        status = Attainment.MISSING if value is None else attainment(value, chosen, direction)
        timeline.append(PeriodResult(period, value, chosen, status))
    drift = 0
    for result in reversed(timeline):
        if result.status is Attainment.ON_TRACK:
            break
        drift += 1
    before = previous_period(ended, frequency)
    overdue = first <= before and ended not in values and before not in values
    return KpiResult(tuple(timeline), drift, overdue)


def is_named(supervisor_name: str | None) -> bool:
    """Whether a supervisor is named: not blank and not a placeholder such as ``TBC`` or ``vacant``."""
    return (supervisor_name or "").strip().lower() not in PLACEHOLDER_NAMES
