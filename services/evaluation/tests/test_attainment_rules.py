"""The rules of domain.md §7 without a database: attainment at each boundary in both directions,
drift, overdue measurements, targets that change, and the periods they run on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import groupby

import pytest

from evaluation.analyses.attainment import (
    Attainment,
    Direction,
    KpiResult,
    evaluate_kpi,
    is_named,
    target_for,
)
from evaluation.analyses.attainment import attainment as status
from evaluation.periods import Frequency, is_period_start, last_ended, next_period, period_of, previous_period

D = Decimal
HIGHER, LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
ON, RISK, OFF, MISSING = Attainment.ON_TRACK, Attainment.AT_RISK, Attainment.OFF_TRACK, Attainment.MISSING


@pytest.mark.parametrize(
    ("value", "target", "direction", "expected"),
    [
        # Higher is better, target 40: met at 40, within 10% down to 36, off below.
        ("40", "40", HIGHER, ON),
        ("55", "40", HIGHER, ON),
        ("39.99", "40", HIGHER, RISK),
        ("36", "40", HIGHER, RISK),
        ("35.99", "40", HIGHER, OFF),
        ("0", "40", HIGHER, OFF),
        # Lower is better, target 20 (e.g. minutes to triage): met at 20, within 10% up to 22.
        ("20", "20", LOWER, ON),
        ("5", "20", LOWER, ON),
        ("20.01", "20", LOWER, RISK),
        ("22", "20", LOWER, RISK),
        ("22.01", "20", LOWER, OFF),
        # A percentage target, exactly.
        ("72.5", "72.5", HIGHER, ON),
        ("65.25", "72.5", HIGHER, RISK),
        ("65.24", "72.5", HIGHER, OFF),
        # A zero target has no band; a negative one is banded by its magnitude.
        ("0", "0", LOWER, ON),
        ("0.01", "0", LOWER, OFF),
        ("-10", "-10", HIGHER, ON),
        ("-11", "-10", HIGHER, RISK),
        ("-11.01", "-10", HIGHER, OFF),
        ("-9", "-10", LOWER, RISK),
        ("-8.99", "-10", LOWER, OFF),
    ],
)
def test_attainment_at_each_boundary(value: str, target: str, direction: Direction, expected: Attainment) -> None:
    assert status(D(value), D(target), direction) is expected


def test_periods_start_on_mondays_and_firsts() -> None:
    weekly, monthly = Frequency.WEEKLY, Frequency.MONTHLY
    assert is_period_start(date(2024, 10, 7), weekly) and not is_period_start(date(2024, 10, 8), weekly)
    assert is_period_start(date(2024, 10, 1), monthly) and not is_period_start(date(2024, 10, 7), monthly)
    assert period_of(date(2024, 10, 13), weekly) == date(2024, 10, 7)  # a Sunday belongs to its Monday
    assert next_period(date(2024, 12, 1), monthly) == date(2025, 1, 1)
    assert previous_period(date(2025, 1, 1), monthly) == date(2024, 12, 1)
    # On a Monday the week before has just ended; on the 1st the month before.
    assert last_ended(date(2024, 10, 7), weekly) == date(2024, 9, 30)
    assert last_ended(date(2024, 10, 6), weekly) == date(2024, 9, 23)
    assert last_ended(date(2024, 11, 1), monthly) == date(2024, 10, 1)
    assert last_ended(date(2024, 10, 31), monthly) == date(2024, 9, 1)


def test_the_target_in_force_follows_its_changes() -> None:
    targets = [(date(2024, 6, 1), D("30")), (date(2024, 9, 1), D("40"))]
    assert target_for(date(2024, 5, 1), targets) == D("30")  # before any: the first
    assert target_for(date(2024, 8, 1), targets) == D("30")
    assert target_for(date(2024, 9, 1), targets) == D("40")
    assert target_for(date(2025, 1, 1), targets) == D("40")


@pytest.mark.parametrize("frequency", [Frequency.MONTHLY, Frequency.WEEKLY])
def test_each_period_of_a_timeline_is_judged_on_the_target_in_force_then(frequency: Frequency) -> None:
    # Targets set before the KPI's first period, within it (mid-period: in force from the next one)
    # and twice in a row; values on either side of each.
    targets = [
        (date(2024, 3, 1), D("10")),
        (date(2024, 6, 15), D("30")),
        (date(2024, 9, 1), D("40")),
        (date(2024, 9, 2), D("20")),
        (date(2025, 2, 1), D("50")),
    ]
    created = date(2024, 4, 20)
    values = {p: D("29") for p in [period_of(date(2024, 5, 10), frequency), period_of(date(2024, 12, 3), frequency)]}
    result = evaluate_kpi(
        frequency=frequency,
        direction=HIGHER,
        created_on=created,
        targets=targets,
        values=values,
        today=date(2025, 3, 31),
    )
    assert result.periods[0].period_start == period_of(created, frequency)
    # Monthly, all five are in force in turn; weekly, the week from Monday 2 September takes 20 at once.
    assert [t for t, _ in groupby(p.target for p in result.periods)] == (
        [D("10"), D("30"), D("40"), D("20"), D("50")]
        if frequency is Frequency.MONTHLY
        else [D("10"), D("30"), D("20"), D("50")]
    )
    for period in result.periods:
        assert period.target == target_for(period.period_start, targets)
        if period.value is not None:
            assert period.status == status(period.value, period.target, HIGHER)


def monthly(values: dict[str, str], *, today: str, created: str = "2024-04-20", target: str = "40") -> KpiResult:
    return evaluate_kpi(
        frequency=Frequency.MONTHLY,
        direction=HIGHER,
        created_on=date.fromisoformat(created),
        targets=[(date(2024, 4, 1), D(target))],
        values={date.fromisoformat(k): D(v) for k, v in values.items()},
        today=date.fromisoformat(today),
    )


def test_drift_counts_the_latest_periods_not_on_track() -> None:
    result = monthly(
        {"2024-04-01": "45", "2024-05-01": "41", "2024-06-01": "38", "2024-07-01": "30", "2024-08-01": "37"},
        today="2024-09-15",  # August is the last ended month
    )
    assert [p.status for p in result.periods] == [ON, ON, RISK, OFF, RISK]
    assert result.drift == 3 and result.flagged
    back_on = monthly({"2024-06-01": "38", "2024-07-01": "30", "2024-08-01": "40"}, today="2024-09-15")
    assert back_on.drift == 0 and not back_on.flagged
    one_off = monthly({"2024-07-01": "40", "2024-08-01": "10"}, today="2024-09-15")
    assert one_off.drift == 1 and not one_off.flagged


def test_a_missing_period_is_not_on_track_but_the_current_one_is_not_yet_due() -> None:
    gap = monthly({"2024-06-01": "50", "2024-08-01": "50"}, today="2024-10-02", created="2024-06-01")
    # July has no value (missing); September has ended without one: drift 1 from September.
    assert [(p.period_start.month, p.status) for p in gap.periods] == [
        (6, ON),
        (7, MISSING),
        (8, ON),
        (9, MISSING),
    ]
    assert gap.drift == 1
    # October (the current month) is in the timeline only once it has a value.
    early = monthly({"2024-09-01": "50", "2024-10-01": "10"}, today="2024-10-02", created="2024-09-01")
    assert [p.period_start.month for p in early.periods] == [9, 10] and early.drift == 1


def test_overdue_needs_two_ended_periods_without_a_value() -> None:
    # Created in June, nothing measured by October: August and September are both missing.
    assert monthly({}, today="2024-10-15", created="2024-06-10").overdue
    # One of the two has a value: not overdue.
    assert not monthly({"2024-08-01": "1"}, today="2024-10-15", created="2024-06-10").overdue
    assert not monthly({"2024-09-01": "1"}, today="2024-10-15", created="2024-06-10").overdue
    # Created in September: only one ended period since, so not yet overdue.
    assert not monthly({}, today="2024-10-15", created="2024-09-20").overdue
    # A measurement of the current period does not cover the two ended before it.
    assert monthly({"2024-10-01": "50"}, today="2024-10-15", created="2024-06-10").overdue


def test_weekly_kpis_run_on_weeks() -> None:
    result = evaluate_kpi(
        frequency=Frequency.WEEKLY,
        direction=LOWER,
        created_on=date(2024, 9, 2),
        targets=[(date(2024, 9, 2), D("15"))],
        values={date(2024, 9, 2): D("14"), date(2024, 9, 9): D("16"), date(2024, 9, 16): D("17")},
        today=date(2024, 9, 23),  # a Monday: the week of the 16th has just ended
    )
    assert [p.status for p in result.periods] == [ON, RISK, OFF]
    assert result.drift == 2 and result.flagged and not result.overdue


def test_named_supervisors() -> None:
    assert is_named("Dr A Smith")
    for placeholder in ("", "  ", "TBC", "tbd", "Vacant", "N/A", "none", "-", "To be confirmed"):
        assert not is_named(placeholder), placeholder
    assert not is_named(None)
