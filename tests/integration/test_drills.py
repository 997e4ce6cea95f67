"""Operator drills with real processes: the portal's gunicorn cut off from PostgreSQL and
reconnected, and a backup restored with `pg_restore` that `verify_ledger` then passes.

Each drill starts the processes it needs on the test database (committed data: transactional
tests) and stops them; none touches the shared PostgreSQL server's other databases.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid

import psycopg
import pytest
from django.db import connection

from bench.serving import HOST, get
from tests.builders import ledger_account, move
from tests.conftest import wait_for
from tests.integration.drill_mail import sent
from tests.integration.processes import (
    Relay,
    celery_worker,
    database_url,
    manage,
    portal_env,
    serve,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.xdist_group("drills"),
    pytest.mark.django_db(transaction=True),
]


def _pids_serving(port: int) -> set[int]:
    """The gunicorn processes (master and workers) bound to loopback `port`."""
    bind = f"{HOST}:{port}".encode()
    pids = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/cmdline", "rb") as f:
                if bind in f.read():
                    pids.add(int(entry.name))
    return pids


def test_pages_answer_503_while_the_database_is_away_and_recover_without_a_restart(
    require_postgres, tmp_path
):
    params = connection.settings_dict
    target = (params.get("HOST") or "127.0.0.1", int(params.get("PORT") or 5432))
    with Relay(target) as relay:
        env = portal_env(database_url(host="127.0.0.1", port=relay.port))
        with serve(env, tmp_path / "gunicorn.log") as port:
            assert get(port, "/rounds/")[0] == 200
            assert get(port, "/readyz")[0] == 200
            pids = _pids_serving(port)

            relay.cut()
            status, body = get(port, "/rounds/")
            assert status == 503, body[:500]
            assert b"briefly unavailable" in body
            status, body = get(port, "/open311/v2/services.json")
            assert status == 503
            assert json.loads(body)[0]["code"] == 503
            status, body = get(port, "/readyz")
            assert status == 503
            assert json.loads(body)["checks"]["database"].startswith("unreachable")
            assert get(port, "/healthz")[0] == 200

            relay.restore()
            assert wait_for(lambda: get(port, "/rounds/")[0] == 200, 30), "no recovery"
            assert get(port, "/readyz")[0] == 200
            assert _pids_serving(port) == pids, "a process restarted"
        log = (tmp_path / "gunicorn.log").read_text(errors="replace")
        assert "Internal Server Error" not in log, log[-3000:]
        assert "Service Unavailable: /rounds/" in log  # the outage is logged for the operator


@contextlib.contextmanager
def _scratch_database():  # type: ignore[no-untyped-def]
    """An empty database on the same server, dropped after the block."""
    name = f"drill_restore_{uuid.uuid4().hex[:10]}"
    admin = database_url(name="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restored_with_pg_restore_passes_verify_ledger(require_postgres, actor, tmp_path):
    fund = ledger_account(actor, "drill-fund")
    payee = ledger_account(actor, "drill-payee")
    for number in range(5):
        move(actor, f"drill-{number}", fund, payee, 1_000 + number)
    dump = tmp_path / "ledger.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--file", str(dump), "--dbname", database_url()],
        check=True,
        timeout=120,
    )
    with _scratch_database() as restored:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                "--dbname",
                database_url(name=restored),
                str(dump),
            ],
            check=True,
            timeout=120,
        )
        env = portal_env(database_url(name=restored))
        verified = manage(env, "verify_ledger")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "Checked 5 transfers" in verified.stdout
        assert "Ledger verified" in verified.stdout

        # The check can fail: one amount changed behind the triggers' back is found.
        with psycopg.connect(database_url(name=restored), autocommit=True) as conn:
            conn.execute("ALTER TABLE ledger_transfer DISABLE TRIGGER USER")
            conn.execute(
                "UPDATE ledger_transfer SET amount_minor = amount_minor + 1 "
                "WHERE idempotency_key = 'drill-2'"
            )
        tampered = manage(env, "verify_ledger")
        assert tampered.returncode == 1
        assert "first bad sequence number" in tampered.stderr


def test_two_web_processes_and_two_workers_lose_and_double_nothing(
    require_postgres, require_redis, civilians_signed_in, inspection, tmp_path
):
    """Filings spread over two gunicorns at once, their emails sent by two Celery workers on
    one broker: every filing is saved once, every confirmation email is sent once."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings

    from service_requests.models import RequestEvent, ServiceRequest

    mail = tmp_path / "mail"
    mail.mkdir()
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/15"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = portal_env(
        database_url(),
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="tests.integration.drill_settings",
        HMS_DRILL_MAIL_DIR=str(mail),
        HMS_OUTBOX_FLUSH_SECONDS="2",
        HMS_OUTBOX_SWEEP_SECONDS="2",
    )
    sessions = civilians_signed_in
    with (
        serve(env, tmp_path / "web-a.log", workers=2) as port_a,
        serve(env, tmp_path / "web-b.log", workers=2) as port_b,
        celery_worker(env, tmp_path / "worker-a.log", "worker-a", beat=True),
        celery_worker(env, tmp_path / "worker-b.log", "worker-b", beat=False),
    ):

        def file(index: int) -> str:
            import http.client
            import urllib.parse

            from tests.builders import filing_form

            port = (port_a, port_b)[index % 2]
            cookie, csrf = sessions[index % len(sessions)]
            form = filing_form(inspection, contact_email=f"drill-{index}@example.test")
            form["csrfmiddlewaretoken"] = csrf
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            try:
                conn.request(
                    "POST",
                    "/requests/new/",
                    body=urllib.parse.urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
                )
                response = conn.getresponse()
                response.read()
                return f"{response.status} {response.getheader('Location', '')}"
            finally:
                conn.close()

        filings = 2 * len(sessions)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(file, range(filings)))
        assert all(status.startswith("302 /requests/HMS-") for status in statuses), statuses
        assert ServiceRequest.objects.count() == filings
        numbers = set(ServiceRequest.objects.values_list("tracking_number", flat=True))
        assert len(numbers) == filings

        def all_sent() -> bool:
            return (
                not RequestEvent.objects.exclude(notify="sent").exists()
                and len(sent(mail)) >= filings
            )

        assert wait_for(all_sent, 90), (
            f"{len(sent(mail))} emails of {filings}; "
            + (tmp_path / "worker-a.log").read_text(errors="replace")[-2000:]
        )
        time.sleep(3)  # a beat later: still nothing sent twice
    emails = sent(mail)
    per_number = {n: sum(n in email["subject"] for email in emails) for n in numbers}
    assert set(per_number.values()) == {1}, per_number
    assert len({email["message_id"] for email in emails}) == len(emails)
    for log in tmp_path.glob("*.log"):
        text = log.read_text(errors="replace")
        assert "Internal Server Error" not in text, text[-3000:]


@pytest.fixture
def civilians_signed_in(db) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Twelve verified civilians, each with a signed-in session: (Cookie header, CSRF token)."""
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.test import Client

    from bench.serving import csrf_token
    from tests.factories import UserFactory

    sessions = []
    for index in range(12):
        email = f"drill-{index}@example.test"
        user = UserFactory(username=f"drill-civilian-{index}", email=email)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        csrf = csrf_token()
        cookie = (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; "
            f"{settings.CSRF_COOKIE_NAME}={csrf}"
        )
        sessions.append((cookie, csrf))
    return sessions
