"""Service-level clocks over a request's timeline, as pure functions.

Three clocks run on the bureau's working time (`oversight.calendar`):
- first response: from submission to the first step staff take that the civilian sees
  (review started, information asked, recommended, decided, fulfilled);
- decision: while the request awaits the approval decision (from each recommendation until
  the case is decided, or returned to review, which pauses it);
- resolution: from submission to fulfilled or rejected, paused while the request waits on the
  civilian (information requested, until they answer) and while it waits on funds.
A withdrawn request stops every clock without an outcome: it neither meets nor misses a target.

The timeline is a list of `(kind, instant)` in the order it happened, kinds being the values of
`service_requests.models.EventKind`; kinds a clock does not know leave it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .calendar import BusinessCalendar, add_working_seconds, working_seconds_between


class Clock(StrEnum):
    FIRST_RESPONSE = "first_response"
    DECISION = "decision"
    RESOLUTION = "resolution"


class Act(StrEnum):
    RUN = "run"  # start, or resume after a pause
    PAUSE = "pause"
    DONE = "done"  # the clock's goal is reached
    CANCEL = "cancel"  # withdrawn: stopped without an outcome


RESPONSES = ("review_started", "info_requested", "recommended", "approved", "rejected", "fulfilled")

RULES: dict[Clock, dict[str, Act]] = {
    Clock.FIRST_RESPONSE: {
        "submitted": Act.RUN,
        **dict.fromkeys(RESPONSES, Act.DONE),
        "withdrawn": Act.CANCEL,
    },
    Clock.DECISION: {
        "recommended": Act.RUN,
        # A return (or recall) puts the request back in review: the supervisors' clock pauses.
        "review_started": Act.PAUSE,
        "approved": Act.DONE,
        "rejected": Act.DONE,
        "withdrawn": Act.CANCEL,
    },
    Clock.RESOLUTION: {
        "submitted": Act.RUN,
        "info_requested": Act.PAUSE,
        "info_provided": Act.RUN,
        "awaiting_funds": Act.PAUSE,
        "funded": Act.RUN,
        "fulfilled": Act.DONE,
        "rejected": Act.DONE,
        "withdrawn": Act.CANCEL,
    },
}


class State(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Reading:
    """Where one clock stands: its state, the intervals it ran, and when it ended."""

    clock: Clock
    state: State
    runs: tuple[tuple[datetime, datetime | None], ...]  # the last may still be open (None)
    started_at: datetime | None
    ended_at: datetime | None  # when it reached DONE or CANCELLED

    @property
    def is_stopped(self) -> bool:
        return self.state in (State.DONE, State.CANCELLED)


def read_clock(clock: Clock, timeline: Sequence[tuple[str, datetime]]) -> Reading:
    """Replay `timeline` through `clock`'s rules."""
    rules = RULES[clock]
    state = State.NOT_STARTED
    runs: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    ended: datetime | None = None
    for kind, at in timeline:
        act = rules.get(kind)
        if act is None or state in (State.DONE, State.CANCELLED):
            continue
        if act is Act.RUN and state is not State.RUNNING:
            state = State.RUNNING
            started = started or at
            runs.append((at, None))
        elif act is Act.PAUSE and state is State.RUNNING:
            state = State.PAUSED
            runs[-1] = (runs[-1][0], at)
        elif act is Act.CANCEL or (act is Act.DONE and state is not State.NOT_STARTED):
            if state is State.RUNNING:
                runs[-1] = (runs[-1][0], at)
            state = State.DONE if act is Act.DONE else State.CANCELLED
            ended = at
    return Reading(clock, state, tuple(runs), started, ended)


def elapsed_seconds(calendar: BusinessCalendar, reading: Reading, now: datetime) -> float:
    """Working seconds the clock has run (an open run counts up to `now`)."""
    return sum(
        working_seconds_between(calendar, start, end if end is not None else now)
        for start, end in reading.runs
    )


def target_instant(
    calendar: BusinessCalendar, reading: Reading, target_seconds: float
) -> datetime | None:
    """When the clock reaches `target_seconds` of working time: in the past for a clock that
    ran past its target, in the future for a running one short of it; None when it paused or
    stopped before reaching it (or never started)."""
    remaining = max(0.0, target_seconds)
    for start, end in reading.runs:
        if end is None:
            return add_working_seconds(calendar, start, remaining)
        ran = working_seconds_between(calendar, start, end)
        if ran > remaining:
            return add_working_seconds(calendar, start, remaining)
        remaining -= ran
    return None


def calendar_seconds(reading: Reading) -> float | None:
    """Wall-clock seconds from the clock's start to its end (pauses included), when done."""
    if reading.state is not State.DONE or reading.started_at is None or reading.ended_at is None:
        return None
    return (reading.ended_at - reading.started_at).total_seconds()
