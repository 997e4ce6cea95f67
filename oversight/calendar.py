"""The bureau's business calendar and working-time arithmetic, as pure functions.

A `BusinessCalendar` is the working weekdays, the opening and closing time (the same on each
working day, on the wall clock of the bureau's time zone) and the public holidays. Working time
is the time inside the working window of a working day that is not a holiday.

Invariants (tested with hand-computed cases in tests/oversight/test_calendar.py):
- each day's window is built from the local wall clock, so a daylight-saving change moves the
  window in UTC but never its length or its local hours;
- `working_seconds_between(c, a, add_working_seconds(c, a, s)) == s` for every `s >= 0`;
- `working_seconds_between` is additive: (a, b) plus (b, c) is (a, c) for a <= b <= c, and it
  is 0 when the end is not after the start.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

# Monday is 0, as in `date.weekday()`.
MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
# The longest a search for the next working day goes before the calendar is declared empty
# (a calendar with no working day at all would otherwise loop for ever).
MAX_DAYS_WITHOUT_WORK = 366


class CalendarError(ValueError):
    """A calendar that cannot hold working time (no working day, or closing before opening)."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Working weekdays and hours in one time zone, less the holidays."""

    zone: ZoneInfo
    workdays: frozenset[int] = MONDAY_TO_FRIDAY
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.workdays or not self.workdays <= set(range(7)):
            raise CalendarError("The calendar needs at least one working weekday (0-6).")
        if self.closes <= self.opens:
            raise CalendarError("The working day must close after it opens.")

    @property
    def day_seconds(self) -> float:
        """The length of one working day on the wall clock, in seconds."""
        opens = self.opens.hour * 3600 + self.opens.minute * 60 + self.opens.second
        closes = self.closes.hour * 3600 + self.closes.minute * 60 + self.closes.second
        return float(closes - opens)

    @property
    def week_seconds(self) -> float:
        """Working seconds of a week without holidays."""
        return len(self.workdays) * self.day_seconds

    @cached_property
    def _working_holidays(self) -> tuple[date, ...]:
        """The holidays that fall on working weekdays, in order."""
        return tuple(sorted(h for h in self.holidays if h.weekday() in self.workdays))

    def holidays_between(self, first: date, stop: date) -> int:
        """How many holidays on working weekdays fall in [first, stop)."""
        found = self._working_holidays
        return bisect_left(found, stop) - bisect_left(found, first)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The working window of `day` as aware datetimes in the calendar's zone."""
        return (
            datetime.combine(day, self.opens, tzinfo=self.zone),
            datetime.combine(day, self.closes, tzinfo=self.zone),
        )

    def local_day(self, moment: datetime) -> date:
        return _aware(moment).astimezone(self.zone).date()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Working-time arithmetic needs timezone-aware datetimes.")
    return moment


def _overlap(start: datetime, end: datetime, low: datetime, high: datetime) -> float:
    """Seconds of [start, end) inside [low, high) (compared as instants)."""
    begin = max(start, low)
    finish = min(end, high)
    return max(0.0, (finish - begin).total_seconds())


def working_seconds_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Working seconds from `start` to `end` (0 when `end` is not after `start`)."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0.0
    first, last = calendar.local_day(start), calendar.local_day(end)
    # Whole weeks strictly between the first and the last day count their working days
    # without walking them; the days at either end are walked one by one.
    whole_weeks = max(0, ((last - first).days - 1) // 7)
    inner_from = first + timedelta(days=1)
    inner_to = inner_from + timedelta(days=whole_weeks * 7)
    total = _whole_weeks_seconds(calendar, inner_from, inner_to, whole_weeks)
    edges = [first, *_days(inner_to, last + timedelta(days=1))] if whole_weeks else []
    for day in edges or _days(first, last + timedelta(days=1)):
        total += _day_overlap(calendar, day, start, end)
    return total


def _days(first: date, stop: date) -> Iterable[date]:
    day = first
    while day < stop:
        yield day
        day += timedelta(days=1)


def _day_overlap(calendar: BusinessCalendar, day: date, start: datetime, end: datetime) -> float:
    if not calendar.is_working_day(day):
        return 0.0
    low, high = calendar.window(day)
    return _overlap(start, end, low, high)


def _whole_weeks_seconds(
    calendar: BusinessCalendar, inner_from: date, inner_to: date, whole_weeks: int
) -> float:
    """Working seconds of the `whole_weeks` full weeks from `inner_from` to `inner_to`: each
    of their days lies strictly inside the span measured, so each counts its whole window."""
    if not whole_weeks:
        return 0.0
    holidays = calendar.holidays_between(inner_from, inner_to)
    return (whole_weeks * len(calendar.workdays) - holidays) * calendar.day_seconds


def add_working_seconds(calendar: BusinessCalendar, start: datetime, seconds: float) -> datetime:
    """The instant `seconds` of working time after `start`, in the calendar's zone.

    Adding 0 to an instant outside working hours gives that instant; a positive amount that
    ends exactly at a closing time gives that closing time."""
    start = _aware(start).astimezone(calendar.zone)
    if seconds < 0:
        raise ValueError("Only a non-negative amount of working time can be added.")
    if seconds == 0:
        return start
    remaining = float(seconds)
    day = start.date()
    # Jump whole weeks that lie well inside the span (their time counted with their
    # holidays), leaving at least a week and the first day to walk day by day.
    weeks = int(remaining // calendar.week_seconds) - 1
    if weeks > 0:
        inner_from = day + timedelta(days=1)
        inner_to = inner_from + timedelta(days=weeks * 7)
        first_low, first_high = calendar.window(day)
        first_day = (
            max(0.0, (first_high - max(start, first_low)).total_seconds())
            if calendar.is_working_day(day)
            else 0.0
        )
        skipped = _whole_weeks_seconds(calendar, inner_from, inner_to, weeks)
        if first_day + skipped < remaining:
            remaining -= first_day + skipped
            day = inner_to
            start = datetime.combine(day, time(0, 0), tzinfo=calendar.zone)
    idle = 0
    while True:
        if calendar.is_working_day(day):
            idle = 0
            low, high = calendar.window(day)
            begin = max(start, low)
            if begin < high:
                available = (high - begin).total_seconds()
                if remaining <= available:
                    return (begin + timedelta(seconds=remaining)).astimezone(calendar.zone)
                remaining -= available
        else:
            idle += 1
            if idle > MAX_DAYS_WITHOUT_WORK:
                raise CalendarError("No working day in a whole year: check the holidays.")
        day += timedelta(days=1)


def add_working_hours(calendar: BusinessCalendar, start: datetime, hours: float) -> datetime:
    return add_working_seconds(calendar, start, hours * 3600)


def add_working_days(calendar: BusinessCalendar, start: datetime, days: float) -> datetime:
    """`days` working days after `start`, a working day being the calendar's day length."""
    return add_working_seconds(calendar, start, days * calendar.day_seconds)


def working_hours_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    return working_seconds_between(calendar, start, end) / 3600
