"""10,000 webhook deliveries drained by one Celery worker, on PostgreSQL and Redis.

Issue 6's target: 10,000 deliveries to a local receiver drained in under 60 seconds by one
worker. The receiver is a threaded HTTP server in this process that answers 200 to every POST
and keeps each delivery's id (to count duplicates) and one signed sample (to check the
signature).

The run: a real worker (`celery -A hms_portal worker -c <n>`, prefork) is started on the bench
Redis database and waited for; then one transaction emits 10,000 `request.submitted` events
for one subscription (`integrations.services.webhooks.emit_many`: the events and deliveries
written in the transaction, the tasks enqueued on commit), and the clock runs from the start of
that transaction until every delivery is recorded as delivered in the database. Baseline in the
same run: the same 10,000 signed POSTs sent to the same receiver from one process, one
connection each as the worker opens them, without Celery or the database.

Run: `uv run python -m bench bench_webhooks`. Environment (all optional):
`BENCH_WEBHOOKS_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/hms_bench_webhooks,
created and migrated), `BENCH_WEBHOOKS_REDIS_URL` (redis://127.0.0.1:6379/9, the broker;
flushed before and after), `BENCH_WEBHOOKS_DELIVERIES` (10,000), `BENCH_WEBHOOKS_CONCURRENCY`
(the worker's processes, 4), `BENCH_WEBHOOKS_TIMEOUT` (300 s before giving up).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg

from bench.common import ensure_database
from bench.serving import HOST, django_env, flush_redis, run, running
from integrations.signing import DELIVERY_HEADER, SIGNATURE_HEADER

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_webhooks"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
TARGET_SECONDS = 60.0
EVENT_TYPE = "request.submitted"


@dataclass(frozen=True)
class Config:
    """What the run measures against, read from the environment."""

    database_url: str
    redis_url: str
    deliveries: int
    concurrency: int
    timeout: float

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            database_url=os.environ.get("BENCH_WEBHOOKS_DATABASE_URL", DEFAULT_DATABASE_URL),
            redis_url=os.environ.get("BENCH_WEBHOOKS_REDIS_URL", DEFAULT_REDIS_URL),
            deliveries=int(os.environ.get("BENCH_WEBHOOKS_DELIVERIES", "10000")),
            concurrency=int(os.environ.get("BENCH_WEBHOOKS_CONCURRENCY", "4")),
            timeout=float(os.environ.get("BENCH_WEBHOOKS_TIMEOUT", "300")),
        )


# --- Django side (`python -m bench.bench_webhooks subscribe URL`, `... emit ID N`) ------------


def _setup() -> None:
    import django

    django.setup()


def _subscribe(target_url: str) -> dict[str, Any]:
    """A client acting for a user who may see every request, subscribed to `request.submitted`
    at `target_url`; earlier bench subscriptions are stopped."""
    _setup()
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from oauth2_provider.models import get_application_model

    from integrations.models import ApiClient, Subscription

    user, created = get_user_model().objects.get_or_create(
        username="bench-webhooks",
        defaults={"email": "bench-webhooks@example.org", "is_staff": True, "is_superuser": True},
    )
    if created:
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    applications = get_application_model()
    application, _ = applications.objects.get_or_create(
        name="bench-webhooks",
        defaults={
            "user": user,
            "client_type": applications.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": applications.GRANT_CLIENT_CREDENTIALS,
        },
    )
    client, _ = ApiClient.objects.get_or_create(
        application=application, defaults={"scopes": "requests:read"}
    )
    Subscription.objects.filter(client=client).update(active=False)
    subscription = Subscription.objects.create(
        client=client, event_types=[EVENT_TYPE], target_url=target_url
    )
    return {"subscription": subscription.pk, "secret": subscription.secret}


def _emit(count: int) -> dict[str, Any]:
    """Emit `count` events in one transaction (deliveries enqueued on commit); time it."""
    _setup()
    from django.db import transaction
    from django.utils import timezone

    from integrations.services.webhooks import emit_many

    started = time.time()
    now = timezone.now().isoformat()
    payloads = [
        {
            "tracking_number": f"HMS-2026-{n:06d}",
            "service_type": "bench",
            "status": "submitted",
            "submitted_at": now,
            "url": f"https://portal.example.gov/requests/HMS-2026-{n:06d}/",
        }
        for n in range(1, count + 1)
    ]
    with transaction.atomic():
        written = emit_many(EVENT_TYPE, payloads)
        committed = time.time()
    return {
        "started": started,
        "written": committed,
        "enqueued": time.time(),
        "events": len(written),
    }


# --- Receiver and baseline --------------------------------------------------------------------


class Receiver:
    """A threaded HTTP server on loopback answering 200 to every POST."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[str] = []
        self.sample: tuple[str, bytes, float] | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # The status line and headers go out before the body, in two writes: without
                # TCP_NODELAY the second waits for the client's delayed ACK (40 ms) on a
                # kept-alive connection, which real servers avoid.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with owner.lock:
                    owner.deliveries.append(self.headers.get(DELIVERY_HEADER, ""))
                    if owner.sample is None:
                        owner.sample = (self.headers.get(SIGNATURE_HEADER, ""), body, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hooks"

    def reset(self) -> None:
        with self.lock:
            self.deliveries = []
            self.sample = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def _baseline(url: str, count: int, secret: str) -> float:
    """Seconds for `count` signed POSTs from this process, a new connection each (as the
    worker sends them), without Celery or the database."""
    from integrations import signing

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.perf_counter()
    for n in range(count):
        body = json.dumps({"id": n, "type": EVENT_TYPE, "data": {"n": n}}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                DELIVERY_HEADER: str(n),
                SIGNATURE_HEADER: signing.signature_header(secret, int(time.time()), body),
            },
        )
        with opener.open(request, timeout=10) as response:
            response.read()
    return time.perf_counter() - started


# --- The worker --------------------------------------------------------------------------------


@contextlib.contextmanager
def _worker(env: dict[str, str], log: Path, concurrency: int) -> Iterator[subprocess.Popen[bytes]]:
    """One Celery worker (prefork, `concurrency` processes) on the bench broker; stopped after."""
    command = [
        sys.executable, "-m", "celery", "-A", "hms_portal", "worker",
        "-c", str(concurrency), "--pool", "prefork", "--loglevel", "INFO",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
        "-n", f"bench-webhooks-{os.getpid()}@%h",
    ]  # fmt: skip
    with running(
        command,
        env,
        log,
        what="the worker",
        is_ready=lambda: b" ready." in log.read_bytes(),
        ready_seconds=90,
        stop_seconds=30,  # a warm shutdown: the main process stops its pool
    ) as process:
        yield process


def _progress(database_url: str, subscription: int) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT status, count(*), sum(attempts) FROM integrations_delivery "
            "WHERE subscription_id = %s GROUP BY status",
            [subscription],
        ).fetchall()
    found = {status: int(count) for status, count, _ in rows}
    found["attempts"] = sum(int(attempts or 0) for _, _, attempts in rows)
    return found


def _wait_drained(config: Config, subscription: int) -> tuple[float, dict[str, int]]:
    """Poll until every delivery is delivered (or failed, or the timeout); return the time of
    the last check and the counts."""
    deadline = time.time() + config.timeout
    while True:
        found = _progress(config.database_url, subscription)
        if found.get("delivered", 0) + found.get("failed", 0) >= config.deliveries:
            return time.time(), found
        if time.time() > deadline:
            return time.time(), found
        time.sleep(0.1)


def main() -> int:
    """Prepare, start the receiver and the worker, emit, wait for the drain; report."""
    config = Config.from_env()
    print(f"database {config.database_url}, broker {config.redis_url}", flush=True)
    ensure_database(config.database_url)
    env = django_env(config.database_url, config.redis_url)
    run(env, "manage.py", "migrate", "--noinput", "-v", "0")
    flush_redis(config.redis_url)
    receiver = Receiver()
    try:
        with receiver.running(), tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
            made = json.loads(
                run(env, "-m", "bench.bench_webhooks", "subscribe", receiver.url)
                .strip()
                .splitlines()[-1]
            )
            baseline = _baseline(receiver.url, config.deliveries, made["secret"])
            print(
                f"baseline: {config.deliveries:,} signed POSTs from one process in "
                f"{baseline:.1f} s ({config.deliveries / baseline:.0f}/s)",
                flush=True,
            )
            receiver.reset()
            log = Path(tmp) / "worker.log"
            with _worker(env, log, config.concurrency):
                emitted = json.loads(
                    run(env, "-m", "bench.bench_webhooks", "emit", str(config.deliveries))
                    .strip()
                    .splitlines()[-1]
                )
                finished, counts = _wait_drained(config, made["subscription"])
            worker_log = log.read_text(errors="replace")
    finally:
        flush_redis(config.redis_url)
    return _report(config, baseline, emitted, finished, counts, receiver, made, worker_log)


def _report(
    config: Config,
    baseline: float,
    emitted: dict[str, Any],
    finished: float,
    counts: dict[str, int],
    receiver: Receiver,
    made: dict[str, Any],
    worker_log: str,
) -> int:
    """Print the drain time, its parts and the ratio to the baseline; 0 if the target is met."""
    from integrations import signing

    drained = finished - emitted["started"]
    received = len(receiver.deliveries)
    duplicates = received - len(set(receiver.deliveries))
    sample_ok = receiver.sample is not None and signing.verify(
        made["secret"], receiver.sample[0], receiver.sample[1], now=receiver.sample[2]
    )
    delivered = counts.get("delivered", 0)
    print(
        f"emitted {emitted['events']:,} events in one transaction: written in "
        f"{emitted['written'] - emitted['started']:.1f} s, enqueued on commit in "
        f"{emitted['enqueued'] - emitted['written']:.1f} s"
    )
    print(
        f"worker -c {config.concurrency}: {delivered:,} delivered, {counts.get('failed', 0)} "
        f"failed, {counts.get('pending', 0)} pending, {counts['attempts']:,} attempts; receiver "
        f"got {received:,} POSTs ({duplicates} duplicates), sample signature "
        f"{'verifies' if sample_ok else 'DOES NOT VERIFY'}"
    )
    for line in worker_log.splitlines():
        if "ERROR" in line or "Traceback" in line:
            print(f"  worker: {line[:200]}")
            break
    met = (
        delivered == config.deliveries
        and received - duplicates == config.deliveries
        and drained < TARGET_SECONDS
        and sample_ok
        and duplicates == 0
    )
    print(
        f"drained in {drained:.1f} s ({delivered / drained:.0f}/s; target < {TARGET_SECONDS:g} s)"
        f"; baseline {baseline:.1f} s; ratio {drained / baseline:.2f}: "
        f"{'PASS' if met else 'FAIL'}",
        flush=True,
    )
    return 0 if met else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["subscribe"]:
        print(json.dumps(_subscribe(sys.argv[2])))
        sys.exit(0)
    if sys.argv[1:2] == ["emit"]:
        print(json.dumps(_emit(int(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
