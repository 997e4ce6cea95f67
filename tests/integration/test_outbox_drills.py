"""Drills with real processes: a Redis server of the test's own, a Celery worker process on it
draining the outbox from PostgreSQL, and civilians filing through the web stack meanwhile.

- Redis stopped and started again while civilians file: nothing is refused, and every email
  goes out once.
- The worker SIGKILLed while it sends a batch: nothing is lost; an email whose send the kill
  cut off before its commit goes out again with the same Message-ID (at least once).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from hms_portal import outbox as drainers
from service_requests.models import NotifyState, RequestEvent
from service_requests.services.notifications import outbox_message_id
from tests.builders import filing_form
from tests.conftest import wait_for
from tests.integration.drill_mail import sent
from tests.integration.processes import database_url, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.worker,
    pytest.mark.xdist_group("celery"),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    assert wait_for(lambda: _pings(client), 10), "redis-server did not start"
    return process


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def _stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _start_worker(port: int, mail: Path, log: Path, seconds: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.integration.drill_settings",
        DATABASE_URL=database_url(),
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        DEBUG="true",
        HMS_DRILL_MAIL_DIR=str(mail),
        HMS_DRILL_MAIL_SECONDS=str(seconds),
        HMS_OUTBOX_SWEEP_SECONDS="2",
        PYTHONPATH=str(ROOT),
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "hms_portal",
        "worker",
        "--pool",
        "solo",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "info",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    started = wait_for(lambda: " ready." in log.read_text(errors="replace"), 45)
    assert started, "the worker did not start:\n" + log.read_text(errors="replace")[-3000:]
    return process


@pytest.fixture
def drill(settings, tmp_path: Path, require_postgres: None) -> Iterator[dict[str, Any]]:
    """A Redis server of the test's own as the web's cache; requests hand their outbox rows
    to a worker (no in-process sending); this process's own drainers paused. PostgreSQL only:
    the worker process shares the test's database, and hears of the outbox by NOTIFY."""
    from hms_portal.celery import app

    port = free_port()
    server = _start_redis(port)
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "hms_portal.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "KEY_PREFIX": f"drill-{uuid.uuid4().hex}",
        },
    }
    paused = list(drainers.running)
    for drainer in paused:
        drainer.stop()
    app.conf.task_always_eager = False
    state: dict[str, Any] = {
        "port": port,
        "redis": server,
        "mail": tmp_path / "mail",
        "log": tmp_path / "worker.log",
        "workers": [],
    }
    state["mail"].mkdir()
    try:
        yield state
    finally:
        app.conf.task_always_eager = True
        for worker in state["workers"]:
            _stop(worker, signal.SIGKILL)
        _stop(state["redis"])
        for drainer in paused:
            drainer.start()


def _file(client: Any, service_type: Any) -> int:
    form = filing_form(
        service_type, description="The heating has not worked since October.", amount=""
    )
    return int(client.post("/requests/new/", form).status_code)


def _all_sent() -> bool:
    return not RequestEvent.objects.filter(notify=NotifyState.PENDING).exists()


def test_redis_stopped_and_started_while_civilians_file(client, civilian, inspection, drill):
    drill["workers"].append(_start_worker(drill["port"], drill["mail"], drill["log"], 0))
    client.force_login(civilian)
    answers = []
    started = time.monotonic()
    for number in range(12):
        if number == 4:
            _stop(drill["redis"])  # Redis goes away: cache, broker and all
        if number == 8:
            drill["redis"] = _start_redis(drill["port"])
        answers.append(_file(client, inspection))
    assert answers == [302] * 12
    assert time.monotonic() - started < 20, "a request waited on the dead Redis"
    assert wait_for(_all_sent, 40), "the outbox was not drained"
    time.sleep(2.5)  # one more sweep: nothing goes out twice
    mails = sent(drill["mail"])
    expected = {
        outbox_message_id("event", event.pk, event.created_at)
        for event in RequestEvent.objects.all()
    }
    assert len(expected) == 12
    assert Counter(m["message_id"] for m in mails) == Counter(dict.fromkeys(expected, 1))


def test_the_worker_killed_mid_batch_loses_nothing(client, civilian, inspection, drill):
    first = _start_worker(drill["port"], drill["mail"], drill["log"], 0.4)
    drill["workers"].append(first)
    client.force_login(civilian)
    for _ in range(10):
        assert _file(client, inspection) == 302
    assert wait_for(lambda: len(sent(drill["mail"])) >= 3, 30), "the worker sent nothing"
    first.kill()  # SIGKILL, most likely between a send and its commit
    first.wait(10)
    assert RequestEvent.objects.filter(notify=NotifyState.PENDING).exists()
    drill["workers"].append(_start_worker(drill["port"], drill["mail"], drill["log"], 0))
    assert wait_for(_all_sent, 40), "the outbox was not drained after the restart"
    mails = sent(drill["mail"])
    expected = {
        outbox_message_id("event", event.pk, event.created_at)
        for event in RequestEvent.objects.all()
    }
    counts = Counter(m["message_id"] for m in mails)
    assert set(counts) == expected  # every email went out, each under its own Message-ID
    assert sum(counts.values()) - len(expected) <= 1  # at most the one the kill cut off
