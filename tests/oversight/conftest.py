"""Requests walked through the real services, then placed on the calendar: their filing time
and their timeline's instants set to hand-chosen moments (New York time, 09:00-17:00 on
weekdays)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service_requests.models import RequestEvent, ServiceRequest

NY = ZoneInfo("America/New_York")


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def place(request: ServiceRequest, *moments: datetime) -> None:
    """Set the request's filing time to the first moment and its timeline events, oldest
    first, to the moments in order (one per event)."""
    events = list(RequestEvent.objects.filter(request=request).order_by("pk"))
    assert len(events) == len(moments), [e.kind for e in events]
    ServiceRequest.objects.filter(pk=request.pk).update(submitted_at=moments[0])
    for event, moment in zip(events, moments, strict=True):
        RequestEvent.objects.filter(pk=event.pk).update(created_at=moment)


@pytest.fixture(autouse=True)
def _new_york_calendar(settings: Any) -> None:
    settings.HMS_OVERSIGHT_TIME_ZONE = "America/New_York"
    settings.HMS_OVERSIGHT_WORKDAYS = [0, 1, 2, 3, 4]
    settings.HMS_OVERSIGHT_OPENS = "09:00"
    settings.HMS_OVERSIGHT_CLOSES = "17:00"
