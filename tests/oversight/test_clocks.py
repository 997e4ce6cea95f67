"""The service-level clocks replayed over timelines (pure: no database)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from oversight.calendar import BusinessCalendar
from oversight.clocks import (
    Clock,
    State,
    calendar_seconds,
    elapsed_seconds,
    read_clock,
    target_instant,
)

NY = ZoneInfo("America/New_York")
CAL = BusinessCalendar(zone=NY)
HOUR = 3600


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NY)


# Monday 2 March 2026 onwards (all EST).
PAUSED_TWICE = [
    ("submitted", at(2, 9)),
    ("review_started", at(2, 11)),
    ("info_requested", at(2, 13)),
    ("info_provided", at(3, 13)),
    ("recommended", at(3, 15)),
    ("approved", at(4, 10)),
    ("awaiting_funds", at(4, 10)),
    ("funded", at(5, 9)),
    ("fulfilled", at(5, 12)),
]


def test_resolution_pauses_while_waiting_on_the_civilian_and_on_funds() -> None:
    reading = read_clock(Clock.RESOLUTION, PAUSED_TWICE)
    assert reading.state is State.DONE
    # Mon 9-13 (4 h), Tue 13-17 (4 h), Wed 9-10 (1 h), Thu 9-12 (3 h).
    assert elapsed_seconds(CAL, reading, at(9, 9)) == 12 * HOUR
    # Calendar time counts the pauses: Monday 09:00 to Thursday 12:00.
    assert calendar_seconds(reading) == 75 * HOUR


def test_first_response_stops_at_the_first_staff_step() -> None:
    reading = read_clock(Clock.FIRST_RESPONSE, PAUSED_TWICE)
    assert reading.state is State.DONE
    assert elapsed_seconds(CAL, reading, at(9, 9)) == 2 * HOUR


def test_decision_runs_only_while_awaiting_the_decision_and_pauses_on_a_return() -> None:
    timeline = [
        ("submitted", at(2, 9)),
        ("review_started", at(2, 9)),
        ("recommended", at(2, 10)),
        ("review_started", at(2, 12)),  # returned to review: 2 h so far
        ("recommended", at(3, 16)),
        ("rejected", at(4, 11)),  # Tue 16-17 and Wed 9-11: 3 h more
    ]
    reading = read_clock(Clock.DECISION, timeline)
    assert reading.state is State.DONE
    assert elapsed_seconds(CAL, reading, at(9, 9)) == 5 * HOUR
    # A 4-hour target fell due 2 h into the second run: Wednesday 10:00.
    assert target_instant(CAL, reading, 4 * HOUR) == at(4, 10)


def test_a_running_clock_falls_due_after_the_time_left() -> None:
    timeline = [("submitted", at(2, 9)), ("info_requested", at(2, 12)), ("info_provided", at(3, 9))]
    reading = read_clock(Clock.RESOLUTION, timeline)
    assert reading.state is State.RUNNING
    # 16 h target: 3 h on Monday, 13 h from Tuesday 09:00: Tuesday 8 h, Wednesday 09:00 + 5 h.
    assert target_instant(CAL, reading, 16 * HOUR) == at(4, 14)
    assert elapsed_seconds(CAL, reading, at(3, 10)) == 4 * HOUR


def test_a_paused_clock_has_no_due_time_until_it_resumes() -> None:
    reading = read_clock(Clock.RESOLUTION, [("submitted", at(2, 9)), ("info_requested", at(2, 12))])
    assert reading.state is State.PAUSED
    assert target_instant(CAL, reading, 16 * HOUR) is None
    # Past its target before the pause: the instant it fell due.
    assert target_instant(CAL, reading, 2 * HOUR) == at(2, 11)


def test_withdrawal_cancels_every_clock() -> None:
    timeline = [("submitted", at(2, 9)), ("withdrawn", at(2, 10))]
    for clock in Clock:
        reading = read_clock(clock, timeline)
        assert reading.is_stopped
        assert calendar_seconds(reading) is None
    assert read_clock(Clock.DECISION, timeline).state is State.CANCELLED
    assert read_clock(Clock.RESOLUTION, timeline).state is State.CANCELLED
