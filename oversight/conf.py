"""Tunables of oversight, each overridable in settings as `HMS_OVERSIGHT_<NAME>`.

The bureau's calendar: its time zone (empty: the site's `TIME_ZONE`), working weekdays
(0 = Monday) and working hours; the default service-level targets for a service type that has
none of its own; the years of US federal holidays `seed_holidays` adds.
"""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    "TIME_ZONE": "",
    "WORKDAYS": [0, 1, 2, 3, 4],
    "OPENS": "09:00",
    "CLOSES": "17:00",
    # Targets in working hours when a service type has no `ServiceLevelTarget` row.
    "FIRST_RESPONSE_HOURS": 16,  # two working days of eight hours
    "DECISION_HOURS": 40,  # a working week
    # Holidays seeded by `seed_holidays` (and the data migration): this many years ahead.
    "HOLIDAY_YEARS_AHEAD": 5,
    # How many breaches one run of the beat task marks at most (the rest wait for the next).
    "BREACH_BATCH": 500,
}


def get(name: str) -> Any:
    """The setting `HMS_OVERSIGHT_<name>`, or its default."""
    return getattr(settings, f"HMS_OVERSIGHT_{name}", DEFAULTS[name])


def zone() -> ZoneInfo:
    name = str(get("TIME_ZONE") or settings.TIME_ZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ImproperlyConfigured(
            f"HMS_OVERSIGHT_TIME_ZONE: unknown time zone {name!r}"
        ) from error


def clock_time(name: str) -> time:
    value = str(get(name))
    try:
        return time.fromisoformat(value)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"HMS_OVERSIGHT_{name}: {value!r} is not a time (HH:MM)"
        ) from error


def workdays() -> frozenset[int]:
    days = frozenset(int(d) for d in get("WORKDAYS"))
    if not days or not days <= set(range(7)):
        raise ImproperlyConfigured("HMS_OVERSIGHT_WORKDAYS: weekdays 0 (Monday) to 6, at least one")
    return days
