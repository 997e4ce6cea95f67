"""With the cache's Redis unreachable, nothing a civilian, a client or a person does answers 500:
sessions are in the database, and the cache answers from the process's memory, enforcing the
rate limits there and logging the outage once (`hms_portal.cache`)."""

from __future__ import annotations

import logging
import re
import socket
import uuid
from typing import Any

import pytest
from django.core.cache import cache

from hms_portal import cache as portal_cache
from service_requests.models import ServiceRequest
from tests.builders import submitted
from tests.conftest import PASSWORD
from tests.integrations.conftest import bearer, register_client

pytestmark = pytest.mark.django_db

STEP = "/requests/new/{}/"
FELL_BACK = "Redis cache unreachable"


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_away(settings, monkeypatch, caplog) -> Any:  # type: ignore[no-untyped-def]
    """The default cache is the portal's Redis backend on a port nothing listens on."""
    monkeypatch.setattr(portal_cache, "_servers", {}, raising=False)
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "hms_portal.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_dead_port()}/0",
            "KEY_PREFIX": f"away-{uuid.uuid4().hex}",
        },
    }
    caplog.set_level(logging.WARNING, logger="hms_portal.cache")
    return caplog


def _fell_back(caplog) -> int:  # type: ignore[no-untyped-def]
    return sum(FELL_BACK in record.getMessage() for record in caplog.records)


def test_sessions_are_kept_in_the_database(settings) -> None:
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def test_signing_in_works_and_the_outage_is_logged_once(client, civilian, redis_away):
    for _ in range(2):
        response = client.post("/accounts/login/", {"login": civilian.email, "password": PASSWORD})
        assert response.status_code == 302, response.content[:500]
        assert client.get("/requests/").status_code == 200
        client.logout()
    assert _fell_back(redis_away) == 1


def test_filing_in_steps_works(client, civilian, inspection, redis_away):
    client.force_login(civilian)
    details = {"service_type": str(inspection.pk), "description": "The roof leaks.", "amount": ""}
    assert client.post(STEP.format("details"), details)["Location"] == STEP.format("documents")
    assert client.post(STEP.format("documents"), {})["Location"] == STEP.format("contact")
    contact = {"contact_name": "Alice", "contact_email": "alice@example.test", "contact_phone": ""}
    assert client.post(STEP.format("contact"), contact)["Location"] == STEP.format("review")
    page = client.get(STEP.format("review")).content.decode()
    found = re.search(r'name="submission_token" value="([0-9a-f-]+)"', page)
    assert found is not None
    token = found.group(1)
    response = client.post(STEP.format("review"), {"submission_token": token})
    filed = ServiceRequest.objects.get()
    assert response["Location"] == f"/requests/{filed.tracking_number}/confirmation/"
    assert _fell_back(redis_away) == 1


def test_tracking_works_and_its_limit_counts_in_memory(
    client, civilian, inspection, settings, redis_away
):
    filed = submitted(civilian, inspection)
    settings.HMS_REQUESTS_TRACK_LIMIT_PER_CLIENT = 3
    form = {"tracking_number": filed.tracking_number, "email": filed.contact_email}
    answers = [client.post("/track/", form).status_code for _ in range(4)]
    assert answers == [302, 302, 302, 429]
    assert _fell_back(redis_away) == 1


def test_the_api_files_and_its_throttle_counts_in_memory(civilian, inspection, redis_away):
    scopes = "requests:read requests:write"
    api = bearer(register_client(civilian, scopes, name="api-app", rate="2/min"))
    payload = {
        "service_type": "inspection",
        "description": "The boiler leaks.",
        "contact_name": "Alice Example",
        "contact_email": "alice@example.test",
    }
    answers = [
        api.post("/api/v1/requests/", payload, format="json", HTTP_IDEMPOTENCY_KEY=f"k{n}")
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert ServiceRequest.objects.count() == 2
    assert _fell_back(redis_away) == 1


def test_open311_files_and_its_limit_counts_in_memory(client, civilian, inspection, redis_away):
    from integrations import services as integration_services

    api_client = register_client(civilian, "requests:write", name="311-app", rate="2/min")
    key = integration_services.client_new_open311_key(
        actor=civilian, client_id=api_client.api_client.pk
    )
    form = {
        "api_key": key,
        "service_code": "inspection",
        "email": "c@example.test",
        "description": "No heat.",
    }
    answers = [client.post("/open311/v2/requests.json", form).status_code for _ in range(3)]
    assert answers == [201, 201, 429]
    assert _fell_back(redis_away) == 1


def test_the_cache_is_used_again_once_redis_answers(settings, redis_away, monkeypatch):
    """A failure opens the breaker; once it is past, a call tries Redis again and, when Redis
    answers, the deletes made meanwhile are replayed and the local copies dropped."""
    cache.set("away:copy", 1)
    assert cache.get("away:copy") == 1  # from memory
    cache.delete("away:copy")
    backend = cache._cache  # type: ignore[attr-defined]
    calls: list[tuple[Any, ...]] = []

    class Answering:
        def get(self, key: str) -> None:
            calls.append(("get", key))

        def delete(self, *keys: str) -> int:
            calls.append(("delete", *keys))
            return len(keys)

    monkeypatch.setattr(backend, "get_client", lambda *a, **k: Answering())
    cache._state.retry_at = 0.0  # type: ignore[attr-defined]
    assert cache.get("away:other") is None
    assert [call[0] for call in calls] == ["get", "delete"]
    assert calls[1][1].endswith("away:copy")
    assert "Redis cache reachable again (1 deletes" in redis_away.text


def test_counters_are_counted_in_one_round_trip_and_in_memory_while_away(
    settings, redis_away, require_redis
):
    """`core.counters.count_hits` on the portal's backend: one pipeline against Redis (each
    counter created with its lifetime, then counted), and the same counts from memory while
    Redis is away."""
    from django.core.cache import caches

    from core.counters import count_hits

    away = count_hits(cache, [("away:a", 60), ("away:b", 60), ("away:a", 60)])
    assert away == [1, 1, 2]
    assert _fell_back(redis_away) == 1
    settings.CACHES = {
        **settings.CACHES,
        "live": {
            "BACKEND": "hms_portal.cache.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"live-{uuid.uuid4().hex}",
        },
    }
    live = caches["live"]
    assert count_hits(live, [("a", 60), ("b", 2), ("a", 60)]) == [1, 1, 2]
    assert count_hits(live, [("a", 60)]) == [3]
    client = live._cache.get_client(None, write=True)  # type: ignore[attr-defined]
    assert 0 < client.ttl(live.make_and_validate_key("b")) <= 2
    assert live.get("a") == 3  # Django's own reads see the counter
