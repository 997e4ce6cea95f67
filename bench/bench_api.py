"""`GET /api/v1/requests/` at 100 a page over 1,000,000 requests, on gunicorn and PostgreSQL.

Issue 6's target: median under 60 ms, and the same number of SQL queries on the first page and
on a deep cursor page (halfway down the list, 5,000 pages in).

An OAuth 2.0 client (client credentials, scope `requests:read`) calls with its bearer token, one
request at a time on a keep-alive connection, 30 timed calls after 5 warm-up calls a scenario:
a client acting for an auditor-like user who sees every request, and one acting for a reviewer
of one program (the list scoped to its service types). The query counts come from the same
calls in-process (Django's test client, same database and settings). Baseline in the same run:
each page's main SELECT, captured from the in-process call, run as raw SQL through psycopg.

Run: `uv run python -m bench bench_api`. Environment (all optional):
`BENCH_API_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/hms_bench_api; created,
migrated and seeded by SQL on the first run, reused afterwards), `BENCH_API_REDIS_URL`
(redis://127.0.0.1:6379/8: the API's rate-limit counters; flushed), `BENCH_API_WORKERS`
(gunicorn sync workers, 2).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import seed
from bench.common import ensure_database
from bench.serving import HOST, django_env, flush_redis, gunicorn, run

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_api"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
ROWS = 1_000_000
PAGE_SIZE = 100
DEEP_OFFSET = ROWS // 2
RUNS = 30
WARMUP = 5
TARGET_MEDIAN_MS = 60.0
LIST = "/api/v1/requests/"
SECRET = "bench-api-client-secret-0123456789abcdef"

# --- Django side (run as `python -m bench.bench_api prepare`) --------------------------------


def _cursor(position: str) -> str:
    """A cursor of DRF's `CursorPagination` pointing after `position` (the ordering's first
    field of the last row seen)."""
    return base64.b64encode(urllib.parse.urlencode({"p": position}).encode("ascii")).decode("ascii")


def _prepare() -> dict[str, Any]:
    """The world, the seed, two OAuth clients with tokens; each scenario's path, query count
    and main SQL (in-process)."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from oauth2_provider.models import get_application_model

    from integrations.models import ApiClient
    from service_requests.models import ServiceRequest

    world = seed.world()
    started = time.perf_counter()
    inserted = seed.world_requests(world, rows=ROWS)
    seeded = f"seeded {inserted:,} in {time.perf_counter() - started:.0f} s" if inserted else ""
    applications = get_application_model()
    tokens: dict[str, str] = {}
    for persona in ("superuser", "reviewer"):
        name = f"bench-api-{persona}"
        application = applications.objects.filter(name=name).first()
        if application is None:
            application = applications.objects.create(
                name=name,
                user=world[persona],
                client_type=applications.CLIENT_CONFIDENTIAL,
                authorization_grant_type=applications.GRANT_CLIENT_CREDENTIALS,
                client_secret=SECRET,
            )
            ApiClient.objects.create(application=application, scopes="requests:read")
        basic = base64.b64encode(f"{application.client_id}:{SECRET}".encode()).decode()
        answer = Client().post(
            "/o/token/",
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=f"Basic {basic}",
        )
        if answer.status_code != 200:
            raise SystemExit(f"token for {persona}: {answer.status_code} {answer.content[:300]!r}")
        tokens[persona] = answer.json()["access_token"]

    ordered = ServiceRequest.objects.order_by("-submitted_at", "-id")
    position = str(ordered.values_list("submitted_at", flat=True)[DEEP_OFFSET])
    deep = f"{LIST}?page_size={PAGE_SIZE}&cursor={urllib.parse.quote(_cursor(position))}"
    first = f"{LIST}?page_size={PAGE_SIZE}"
    scenarios = []
    for persona in ("superuser", "reviewer"):
        for label, path in (("first page", first), ("deep page", deep)):
            client = Client(HTTP_AUTHORIZATION=f"Bearer {tokens[persona]}")
            client.get(path)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(
                    f"{persona} {label}: {response.status_code} {response.content[:300]!r}"
                )
            body = response.json()
            main_sql = next(
                (
                    q["sql"]
                    for q in captured.captured_queries
                    if "ORDER BY" in q["sql"] and f"LIMIT {PAGE_SIZE + 1}" in q["sql"]
                ),
                "",
            )
            scenarios.append(
                {
                    "persona": persona,
                    "label": label,
                    "path": path,
                    "token": tokens[persona],
                    "rows": len(body["results"]),
                    "queries": len(captured),
                    "sql": [q["sql"] for q in captured.captured_queries],
                    "main_sql": main_sql,
                }
            )
    return {"seeded": seeded, "count": ServiceRequest.objects.count(), "scenarios": scenarios}


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Timing:
    """One scenario's HTTP timings and its raw-SQL baseline, in milliseconds."""

    label: str
    http_ms: list[float]
    sql_ms: list[float]

    def median(self) -> float:
        return statistics.median(self.http_ms)

    def p95(self) -> float:
        return statistics.quantiles(self.http_ms, n=20)[-1]


def _time_http(port: int, path: str, token: str) -> list[float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    timings = []
    try:
        for run in range(WARMUP + RUNS):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
            if run >= WARMUP:
                timings.append(elapsed)
    finally:
        conn.close()
    return timings


def _time_sql(url: str, sql: str) -> list[float]:
    import psycopg

    timings = []
    with psycopg.connect(url) as conn:
        for run in range(WARMUP + RUNS):
            started = time.perf_counter()
            conn.execute(sql).fetchall()
            if run >= WARMUP:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str
    workers: int


def main() -> int:
    """Seed if needed, serve with gunicorn, time each scenario; non-zero if a target is missed."""
    config = Config(
        database_url=os.environ.get("BENCH_API_DATABASE_URL", DEFAULT_DATABASE_URL),
        redis_url=os.environ.get("BENCH_API_REDIS_URL", DEFAULT_REDIS_URL),
        workers=int(os.environ.get("BENCH_API_WORKERS", "2")),
    )
    print(f"database {config.database_url}, redis {config.redis_url}", flush=True)
    ensure_database(config.database_url)
    env = django_env(config.database_url, config.redis_url)
    env["HMS_API_CLIENT_RATE"] = "1000000/min"
    env["HMS_API_USER_RATE"] = "1000000/min"
    run(env, "manage.py", "migrate", "--noinput", "-v", "0")
    flush_redis(config.redis_url)
    try:
        prep = json.loads(run(env, "-m", "bench.bench_api", "prepare").strip().splitlines()[-1])
        if prep["seeded"]:
            print(prep["seeded"])
        print(f"{prep['count']:,} requests; {PAGE_SIZE} a page; {RUNS} timed calls after {WARMUP}")
        timings: list[tuple[dict[str, Any], Timing]] = []
        with (
            tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
            gunicorn(env, Path(tmp) / "gunicorn.log", config.workers) as port,
        ):
            for scenario in prep["scenarios"]:
                http_ms = _time_http(port, scenario["path"], scenario["token"])
                sql_ms = _time_sql(config.database_url, scenario["main_sql"])
                timings.append((scenario, Timing(scenario["label"], http_ms, sql_ms)))
    finally:
        flush_redis(config.redis_url)
    return _report(timings)


def _report(timings: list[tuple[dict[str, Any], Timing]]) -> int:
    print(
        f"{'acting for':<10} {'page':<11} {'rows':>4} {'median ms':>9} {'p95 ms':>7} "
        f"{'raw SQL ms':>10} {'ratio':>6} {'queries':>7}"
    )
    met = True
    counts: dict[str, set[int]] = {}
    for scenario, timing in timings:
        sql = statistics.median(timing.sql_ms)
        median = timing.median()
        met = met and median < TARGET_MEDIAN_MS
        counts.setdefault(scenario["persona"], set()).add(scenario["queries"])
        print(
            f"{scenario['persona']:<10} {scenario['label']:<11} {scenario['rows']:>4} "
            f"{median:9.1f} {timing.p95():7.1f} {sql:10.2f} {median / sql:6.1f} "
            f"{scenario['queries']:>7}"
        )
    for scenario, _ in timings[:1] + timings[2:3]:
        print(f"queries of {scenario['persona']} {scenario['label']}:")
        for number, sql in enumerate(scenario["sql"], 1):
            print(f"  {number:2d}. {sql[:160]}")
    fixed = all(len(found) == 1 for found in counts.values())
    # An empty or short page would be fast for the wrong reason.
    full = all(scenario["rows"] == PAGE_SIZE for scenario, _ in timings)
    print(
        f"median under {TARGET_MEDIAN_MS:g} ms: {'PASS' if met else 'FAIL'}; same query count "
        f"on the first and the deep page: {'PASS' if fixed else 'FAIL'}; every page full: "
        f"{'PASS' if full else 'FAIL'}",
        flush=True,
    )
    return 0 if met and fixed and full else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        print(json.dumps(_prepare()))
        sys.exit(0)
    sys.exit(main())
