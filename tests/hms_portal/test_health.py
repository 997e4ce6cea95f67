"""`/healthz` and `/readyz` for load balancers: anonymous, uncached, no session, no redirect,
any Host; readiness checked against the real database and Redis, and refused (503, naming
the check) by a real refused connection, never a 500."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from hms_portal.health import READY_TIMEOUT, SKIPPED_CACHE

pytestmark = pytest.mark.django_db

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a real refusal


def _assert_probe_answer(response: Any) -> None:
    """What every probe answer shares: JSON, never cached, no cookie."""
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies


def test_healthz_answers_without_any_query(client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    _assert_probe_answer(response)


def test_healthz_answers_a_probe_by_address_over_plain_http_in_any_language(
    settings: Any,
) -> None:
    # A load balancer probes the machine's address over HTTP behind the TLS proxy.
    settings.SECURE_SSL_REDIRECT = True
    probe = Client(HTTP_HOST="10.0.0.7", HTTP_ACCEPT_LANGUAGE="es")
    for path in ("/healthz", "/readyz"):
        response = probe.get(path)
        assert response.status_code in (200, 503), path
        _assert_probe_answer(response)
    assert probe.head("/healthz").status_code == 200
    # The same client on a page: the host is refused, so the probe paths are the exception.
    assert probe.get("/").status_code == 400


def test_the_probes_take_no_other_method(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.usefixtures("require_postgres", "require_redis")
def test_readyz_is_ready_with_the_real_database_and_redis(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}
    _assert_probe_answer(response)


def test_readyz_without_redis_checks_the_database_and_says_so(
    client: Client, settings: Any
) -> None:
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": SKIPPED_CACHE},
    }


def test_readyz_names_the_cache_when_redis_refuses(client: Client, settings: Any) -> None:
    settings.REDIS_URL = CLOSED_REDIS
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < READY_TIMEOUT + 1
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unreachable: connection refused"},
    }
    _assert_probe_answer(response)


def test_readyz_names_the_database_when_it_cannot_be_reached(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # The probe connects with the portal's settings: point them where no database is.
    if connection.vendor == "postgresql":
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")
        reason = "unreachable: connection refused"
    else:
        monkeypatch.setitem(connection.settings_dict, "NAME", str(tmp_path / "absent" / "db"))
        reason = "unreachable: OperationalError"
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": reason, "cache": SKIPPED_CACHE},
    }
    _assert_probe_answer(response)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a server that hangs."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.usefixtures("require_postgres")
def test_readyz_answers_in_about_a_second_when_the_database_hangs(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch, silent_port: int
) -> None:
    monkeypatch.setitem(connection.settings_dict, "PORT", str(silent_port))
    settings.REDIS_URL = ""
    started = time.monotonic()
    response = client.get("/readyz")
    # The probe's deadline, not libpq's shortest connect_timeout (2 s).
    assert time.monotonic() - started < 1.9
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable: timed out"


def test_readyz_names_the_cache_when_redis_hangs(
    client: Client, settings: Any, silent_port: int
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_port}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unreachable: timed out"},
    }


_SLEEP = """
import django
django.setup()
from django.db import connection
from django.db.utils import OperationalError
try:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.5)")
    print("finished")
except OperationalError as error:
    print("cancelled" if "statement timeout" in str(error) else f"other: {error}")
"""


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.parametrize(("process", "expected"), [("web", "cancelled"), ("", "finished")])
def test_only_the_web_servers_statements_are_cancelled_after_the_timeout(
    process: str, expected: str
) -> None:
    """gunicorn's processes (marked by `hms_portal.wsgi`) run under the statement timeout;
    a command or a Celery task, with the same settings, may run a long statement."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    environment = {
        **os.environ,
        "HMS_DB_STATEMENT_TIMEOUT_MS": "100",
        "HMS_PROCESS": process,
        "DJANGO_SETTINGS_MODULE": "hms_portal.settings",
        "DEBUG": "true",
    }
    database = settings.DATABASES["default"]
    environment["DATABASE_URL"] = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    result = subprocess.run(
        [sys.executable, "-c", _SLEEP],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip().splitlines()[-1] == expected, result.stderr[-2000:]
