"""Load on the daily paths with many clients at once: nothing refused, lost or doubled.

Served by gunicorn (sync workers, 2 x cores + 1) on PostgreSQL and Redis, on loopback only,
16 then 32 concurrent clients (each a process of its own, one keep-alive connection) on:

- `catalogue`: `GET /requests/new/`, the public list of services;
- `track`: `POST /track/` with a tracking number and its email, answered by a redirect;
- `filing`: `POST /requests/new/`, a signed-in civilian filing one request (each client is a
  civilian of its own), answered by a redirect to the request's confirmation;
- `changelist`: the admin's requests list, a reviewer signed in;
- `api`: `GET /api/v1/requests/`, an OAuth client's bearer token, 50 rows;
- `ping`: the bare view of the same stack (`/bench/ping/`), the baseline of each ratio.

Each phase runs `BENCH_LOAD_SECONDS` (8) after 1 s of warm-up. Printed per phase: requests per
second, p50 and p95 latency, answers that were not as expected and how many were 5xx, and the
ratio to the baseline's rate at the same concurrency. After the filing phases, the requests
in the database are counted against the confirmations the clients received: every one saved,
none twice. Fails (exit 1) on any 5xx, any unexpected answer, or a filing lost or doubled.

Run: `uv run python -m bench bench_load`. Environment: `BENCH_LOAD_DATABASE_URL` (default
postgres://postgres@127.0.0.1:5432/hms_bench_load, created and migrated), `BENCH_LOAD_REDIS_URL`
(redis://127.0.0.1:6379/13, flushed), `BENCH_LOAD_SECONDS`, `BENCH_LOAD_ROWS` (2000 seeded
requests), `BENCH_LOAD_CLIENTS` ("16,32").
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.common import ensure_database, server_cpu_seconds
from bench.serving import (
    PhaseResult,
    csrf_token,
    django_env,
    flush_redis,
    gunicorn,
    ready,
    run,
    timed_requests,
)
from bench.submission_prep import submission_form

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
KINDS = ("ping", "catalogue", "track", "filing", "changelist", "api")
CONFIRMATION = re.compile(r"^(https?://[^/]+)?/requests/HMS-\d{4}-\d{6,}/confirmation/$")


def _request_of(job: dict[str, Any]) -> tuple[str, str, dict[str, str], int]:
    """(method, path, headers, expected status) of one client's requests of its kind."""
    kind = job["kind"]
    csrf = job["csrf"]
    session = f"{job['session_cookie_name']}={job['session']}"
    csrf_cookie = f"{job['csrf_cookie_name']}={csrf}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if kind == "ping":
        return "GET", "/bench/ping/", {}, 200
    if kind == "catalogue":
        return "GET", "/requests/new/", {}, 200
    if kind == "track":
        return "POST", "/track/", {**form, "Cookie": csrf_cookie}, 302
    if kind == "filing":
        return "POST", "/requests/new/", {**form, "Cookie": f"{session}; {csrf_cookie}"}, 302
    if kind == "changelist":
        staff = f"{job['session_cookie_name']}={job['staff_session']}"
        return "GET", "/admin/service_requests/servicerequest/", {"Cookie": staff}, 200
    auth = {"Authorization": f"Bearer {job['token']}", "Accept": "application/json"}
    return "GET", "/api/v1/requests/?page_size=50", auth, 200


def _client_loop(job: dict[str, Any]) -> dict[str, Any]:
    """One client on its kind as fast as answers come; counts every confirmation it receives
    (warm-up included) so the filings can be checked against the database."""
    method, path, headers, expected = _request_of(job)
    confirmed = 0
    server_errors = 0

    def send(conn: http.client.HTTPConnection) -> str:
        nonlocal confirmed, server_errors
        body = None
        if job["kind"] == "track":
            body = urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": job["csrf"],
                    "tracking_number": job["tracking_number"],
                    "email": job["email"],
                }
            )
        elif job["kind"] == "filing":
            fields = submission_form(service_type_id=job["service_type_id"], index=job["index"])
            fields["csrfmiddlewaretoken"] = job["csrf"]
            body = urllib.parse.urlencode(fields)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        location = response.getheader("Location", "")
        if response.status >= 500:
            server_errors += 1
        if response.status != expected:
            return f"{response.status} {location} {content[:200]!r}"
        if job["kind"] == "filing":
            if not CONFIRMATION.match(location):
                return f"302 to unexpected {location!r}"
            confirmed += 1
        return ""

    part = timed_requests(job, send)
    part["confirmed"] = confirmed
    part["server_errors"] = server_errors
    return part


def _phase(
    pool: Any, kind: str, clients: int, port: int, prep: dict[str, Any], seconds: float
) -> tuple[PhaseResult, int, int]:
    """One phase of `clients` clients; its figures, confirmations and 5xx answers."""
    begin = time.time() + 0.3
    jobs = [
        {
            **{key: prep[key] for key in prep if key != "sessions"},
            "kind": kind,
            "index": index,
            "port": port,
            "session": prep["sessions"][index],
            "csrf": csrf_token(),
            "begin": begin,
            "seconds": seconds,
        }
        for index in range(clients)
    ]
    result = PhaseResult(kind=kind, seconds=seconds)
    cpu_before = server_cpu_seconds(port)
    confirmed = server_errors = 0
    for part in pool.map(_client_loop, jobs, chunksize=1):
        result.add(part)
        confirmed += part["confirmed"]
        server_errors += part["server_errors"]
    result.server_cpu = server_cpu_seconds(port) - cpu_before
    return result, confirmed, server_errors


def main() -> int:
    """Prepare, serve, run every kind at each concurrency, check the filings; print it all."""
    database_url = os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_LOAD_REDIS_URL", DEFAULT_REDIS_URL)
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", "8"))
    levels = [int(n) for n in os.environ.get("BENCH_LOAD_CLIENTS", "16,32").split(",")]
    workers = 2 * (os.cpu_count() or 1) + 1
    env = django_env(database_url, redis_url)
    env["BENCH_TRACK_LIMIT"] = "100000000"
    print(f"database {database_url}, redis {redis_url}, gunicorn {workers} workers", flush=True)
    ensure_database(database_url)
    run(env, "manage.py", "migrate", "--noinput", "-v", "0")
    flush_redis(redis_url)
    prep = json.loads(
        run(env, "-m", "bench.load_prep", "prepare", str(max(levels))).splitlines()[-1]
    )
    before = int(run(env, "-m", "bench.load_prep", "count", prep["service_code"]).strip())
    failures: list[str] = []
    confirmed_total = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            log = Path(tmp) / "gunicorn.log"
            with gunicorn(env, log, workers) as port:
                context = multiprocessing.get_context("spawn")
                with context.Pool(max(levels)) as pool:
                    pool.map(ready, range(max(levels)), chunksize=1)
                    for kind in KINDS:  # every worker pays its one-time costs, unrecorded
                        confirmed_total += _phase(pool, kind, 4, port, prep, 1.0)[1]
                    for clients in levels:
                        print(f"{clients} concurrent clients, {seconds:g} s per phase:")
                        baseline = 0.0
                        for kind in KINDS:
                            result, confirmed, server_errors = _phase(
                                pool, kind, clients, port, prep, seconds
                            )
                            confirmed_total += confirmed
                            baseline = baseline or result.rps
                            ratio = result.rps / baseline if baseline else 0.0
                            print(
                                f"  {result.line()}  5xx {server_errors}  "
                                f"ratio to ping {ratio:.3f}",
                                flush=True,
                            )
                            for sample in result.error_samples:
                                print(f"    error: {sample}")
                            if result.errors or server_errors:
                                failures.append(f"{kind} at {clients}: {result.errors} errors")
            server_log = log.read_text(errors="replace")
            if "Traceback" in server_log:
                print("gunicorn log (tail):\n" + server_log[-3000:])
    finally:
        flush_redis(redis_url)
    after = int(run(env, "-m", "bench.load_prep", "count", prep["service_code"]).strip())
    saved = after - before
    verdict = "every one saved once" if saved == confirmed_total else "LOST OR DOUBLED"
    print(f"filings confirmed {confirmed_total}, saved {saved}: {verdict}")
    if saved != confirmed_total:
        failures.append(f"filings: {confirmed_total} confirmed, {saved} saved")
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
