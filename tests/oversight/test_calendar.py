"""Working-time arithmetic on the bureau's calendar, against hand-computed instants.

The calendar: Monday to Friday, 09:00 to 17:00 in New York. In 2026 daylight saving starts on
Sunday 8 March (EST, UTC-5, before; EDT, UTC-4, after) and ends on Sunday 1 November;
Thanksgiving is Thursday 26 November."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from oversight.calendar import (
    BusinessCalendar,
    CalendarError,
    add_working_days,
    add_working_hours,
    add_working_seconds,
    working_hours_between,
    working_seconds_between,
)

NY = ZoneInfo("America/New_York")
THANKSGIVING = date(2026, 11, 26)
CAL = BusinessCalendar(zone=NY, holidays=frozenset({THANKSGIVING}))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def test_two_hours_from_friday_afternoon_cross_the_weekend_and_the_clock_change() -> None:
    # Friday 6 March 16:00 EST is 21:00 UTC: one hour left that day; Monday 9 March opens at
    # 09:00 EDT, 13:00 UTC, so the second hour ends at 10:00 EDT, 14:00 UTC.
    due = add_working_hours(CAL, utc(2026, 3, 6, 21), 2)
    assert due == utc(2026, 3, 9, 14)
    assert due.astimezone(NY).time() == time(10, 0)
    # 65 hours apart on the clock, 2 of them working hours.
    assert working_hours_between(CAL, utc(2026, 3, 6, 21), utc(2026, 3, 9, 14)) == 2


def test_the_day_daylight_saving_ends_keeps_its_local_hours() -> None:
    # Friday 30 October 15:00 EDT (19:00 UTC) + 4 h: 2 h on Friday, 2 h on Monday 2 November
    # from 09:00 EST (14:00 UTC), so 11:00 EST = 16:00 UTC.
    assert add_working_hours(CAL, utc(2026, 10, 30, 19), 4) == utc(2026, 11, 2, 16)


def test_a_holiday_has_no_working_time() -> None:
    # Wednesday 25 November 15:00 + 4 h: 2 h on Wednesday, none on Thanksgiving, 2 h on Friday.
    assert add_working_hours(CAL, local(2026, 11, 25, 15), 4) == local(2026, 11, 27, 11)
    assert working_hours_between(CAL, local(2026, 11, 25, 15), local(2026, 11, 27, 11)) == 4
    without = BusinessCalendar(zone=NY)
    assert add_working_hours(without, local(2026, 11, 25, 15), 4) == local(2026, 11, 26, 11)


def test_time_outside_working_hours_counts_nothing() -> None:
    assert working_hours_between(CAL, local(2026, 3, 7, 10), local(2026, 3, 8, 20)) == 0
    assert working_hours_between(CAL, local(2026, 3, 3, 18), local(2026, 3, 4, 8)) == 0
    assert working_hours_between(CAL, local(2026, 3, 3, 12), local(2026, 3, 3, 11)) == 0
    # Started before opening: the clock starts at 09:00.
    assert add_working_hours(CAL, local(2026, 3, 3, 7), 1) == local(2026, 3, 3, 10)
    # Adding nothing gives the instant itself; ending exactly at closing gives 17:00.
    assert add_working_seconds(CAL, local(2026, 3, 7, 10), 0) == local(2026, 3, 7, 10)
    assert add_working_hours(CAL, local(2026, 3, 3, 16), 1) == local(2026, 3, 3, 17)


def test_working_days_are_eight_hour_days() -> None:
    # Monday 2 March 10:00 + 2 working days = Wednesday 10:00.
    assert add_working_days(CAL, local(2026, 3, 2, 10), 2) == local(2026, 3, 4, 10)
    # Thursday 19 November 12:00 + 5 working days: Thanksgiving skipped, so Friday 27th 12:00.
    assert add_working_days(CAL, local(2026, 11, 19, 12), 5) == local(2026, 11, 27, 12)


def test_long_spans_count_whole_weeks_and_their_holidays() -> None:
    # 2 November 09:00 to 30 November 17:00 2026: 21 weekdays, one of them Thanksgiving.
    hours = working_hours_between(CAL, local(2026, 11, 2, 9), local(2026, 11, 30, 17))
    assert hours == 20 * 8
    # And back: 160 working hours from 2 November 09:00 end at 30 November 17:00 (whole weeks
    # jumped, Thanksgiving among them).
    assert add_working_hours(CAL, local(2026, 11, 2, 9), 160) == local(2026, 11, 30, 17)
    assert add_working_hours(CAL, local(2026, 11, 2, 9), 161) == local(2026, 12, 1, 10)
    # The same span walked day by day (no whole weeks): split at every day and summed.
    days = [local(2026, 11, d, 0) for d in range(2, 31)] + [local(2026, 11, 30, 17)]
    pieces = [local(2026, 11, 2, 9), *days[1:]]
    assert sum(working_hours_between(CAL, a, b) for a, b in itertools.pairwise(pieces)) == 160


def test_adding_then_measuring_gives_back_the_amount() -> None:
    start = local(2026, 3, 5, 13, 17)
    for seconds in (0, 1, 3_599, 8 * 3600, 27 * 3600 + 5, 200 * 3600):
        end = add_working_seconds(CAL, start, seconds)
        assert working_seconds_between(CAL, start, end) == seconds


def test_naive_instants_and_empty_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        working_seconds_between(CAL, datetime(2026, 3, 2, 9), local(2026, 3, 2, 10))
    with pytest.raises(CalendarError):
        BusinessCalendar(zone=NY, workdays=frozenset())
    with pytest.raises(CalendarError):
        BusinessCalendar(zone=NY, opens=time(17), closes=time(9))
    with pytest.raises(ValueError, match="non-negative"):
        add_working_hours(CAL, local(2026, 3, 2, 9), -1)
