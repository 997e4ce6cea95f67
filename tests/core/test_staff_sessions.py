"""Staff sessions end after 30 minutes without a request and 12 hours after sign-in, on the
server; civilians keep their sessions. The clock is `core.authn.sessions.now`, set by the test."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.authn import sessions
from core.models import SecurityEvent, SecurityEventKind

pytestmark = pytest.mark.django_db

MINUTE = 60
HOUR = 3600


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.at = start

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sessions, "now", clock)
    return clock


def _signed_out_to_sign_in(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_a_staff_session_ends_after_thirty_idle_minutes(
    client: Client, reviewer: Any, clock: Clock
) -> None:
    client.force_login(reviewer)
    assert client.get("/admin/").status_code == 200
    clock.advance(29 * MINUTE)
    assert client.get("/admin/").status_code == 200
    clock.advance(29 * MINUTE)  # busy: each request moves the idle clock on
    assert client.get("/admin/").status_code == 200
    clock.advance(31 * MINUTE)
    response = client.get("/admin/")
    assert _signed_out_to_sign_in(response)
    assert "_auth_user_id" not in client.session
    assert SecurityEvent.objects.filter(
        user=reviewer, kind=SecurityEventKind.SESSION_IDLE_EXPIRED
    ).exists()


def test_a_busy_staff_session_ends_twelve_hours_after_sign_in(
    client: Client, supervisor: Any, clock: Clock
) -> None:
    client.force_login(supervisor)
    for _ in range(12 * 4):
        assert client.get("/workflow/").status_code == 200
        clock.advance(15 * MINUTE)
    clock.advance(MINUTE)
    response = client.get("/workflow/")
    assert _signed_out_to_sign_in(response)
    assert SecurityEvent.objects.filter(
        user=supervisor, kind=SecurityEventKind.SESSION_LIFETIME_EXPIRED
    ).exists()


def test_the_limits_are_settings(
    client: Client, reviewer: Any, clock: Clock, settings: Any
) -> None:
    settings.HMS_STAFF_SESSION_IDLE_SECONDS = 5 * MINUTE
    client.force_login(reviewer)
    clock.advance(6 * MINUTE)
    assert _signed_out_to_sign_in(client.get("/admin/"))


def test_a_civilian_session_has_no_staff_limits(
    client: Client, civilian: Any, clock: Clock
) -> None:
    client.force_login(civilian)
    clock.advance(13 * HOUR)
    assert client.get(reverse("service_requests:list")).status_code == 200
