"""Rate limits per client, counted in the cache (Redis in CI): 429 with Retry-After."""

from __future__ import annotations

import random

import pytest
from rest_framework.test import APIClient

from core.api import ClientRateThrottle, parse_rate
from tests.integrations.conftest import bearer

pytestmark = pytest.mark.django_db

URL = "/api/v1/service-types/"


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every call of a test in one window, 20 s into a minute (a slow machine must not see the
    window roll over between two calls), a window of its own (a counter left in Redis by an
    earlier run, whose ids may repeat, must not count)."""
    now = 1_800_000_000.0 + random.randrange(1_000_000) * 86_400 + 20
    monkeypatch.setattr(ClientRateThrottle, "timer", staticmethod(lambda: now))


def test_a_client_over_its_rate_gets_429_with_retry_after(make_client, reviewer, inspection):
    api = bearer(make_client(reviewer, "requests:read", rate="3/min"))
    for _ in range(3):
        assert api.get(URL).status_code == 200
    refused = api.get(URL)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert refused["Retry-After"] == "40"


def test_each_client_has_its_own_budget(make_client, reviewer, inspection):
    first = bearer(make_client(reviewer, "requests:read", rate="2/min"))
    second = bearer(make_client(reviewer, "requests:read", rate="2/min"))
    for _ in range(2):
        assert first.get(URL).status_code == 200
    assert first.get(URL).status_code == 429
    assert second.get(URL).status_code == 200


def test_the_default_client_rate_applies_without_one_of_its_own(
    make_client, reviewer, inspection, settings
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"client": "1/min", "user": "100/min"},
    }
    api = bearer(make_client(reviewer, "requests:read"))
    assert api.get(URL).status_code == 200
    assert api.get(URL).status_code == 429


def test_people_are_limited_per_user(reviewer, inspection, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"client": "100/min", "user": "2/min"},
    }
    person = APIClient()
    person.force_login(reviewer)
    assert person.get(URL).status_code == 200
    assert person.get(URL).status_code == 200
    assert person.get(URL).status_code == 429


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("600/min", (600, 60)), ("5/s", (5, 1)), ("100/hour", (100, 3600)), ("9/day", (9, 86400))],
)
def test_rates_parse(rate, expected):
    assert parse_rate(rate) == expected
