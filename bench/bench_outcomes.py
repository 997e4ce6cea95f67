"""Benchmark: the bureau's figures (`oversight.figures.outcomes`) over 20,000 requests.

Run with `uv run python -m bench bench_outcomes`. Needs PostgreSQL at
`BENCH_OUTCOMES_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/hms_bench_outcomes`);
the database is created, migrated and seeded on the first run (requests by `bench.seed`, their
timelines by SQL: filed, review started two hours later, and fulfilled or rejected ten days
after filing for the closed ones) and reused afterwards.

It times `outcomes()` for the last 30 days and for all time (the figures are computed from the
requests on each call: no rollups yet), counts their queries, and, as the baseline, reads the
same rows (the requests and their events) as raw SQL through psycopg: what is left is the
clocks' replay on the business calendar in Python. Informational: no target.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from bench import seed
from bench.common import bench_database, ensure_database, setup_django, timed_ms

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_outcomes"
ROWS = 20_000
RUNS = 5
WARMUP = 1

EVENTS_SQL = """
INSERT INTO service_requests_requestevent (request_id, kind, message, public, actor_id,
    created_at, notify, notified_at)
SELECT r.id, 'submitted', '', true, NULL::integer, r.submitted_at, 'none', NULL::timestamptz
FROM service_requests_servicerequest AS r
UNION ALL
SELECT r.id, 'review_started', '', true, NULL::integer, r.submitted_at + interval '2 hours',
    'none', NULL::timestamptz
FROM service_requests_servicerequest AS r WHERE r.status <> 'submitted'
UNION ALL
SELECT r.id, r.status, '', true, NULL::integer, r.submitted_at + interval '10 days',
    'none', NULL::timestamptz
FROM service_requests_servicerequest AS r WHERE r.status IN ('fulfilled', 'rejected');
ANALYZE;
"""

RAW_SQL = """
SELECT r.id, r.submitted_at, r.status, r.service_type_id, r.assignee_id
FROM service_requests_servicerequest AS r WHERE r.submitted_at < now();
SELECT e.request_id, e.kind, e.created_at FROM service_requests_requestevent AS e
ORDER BY e.request_id, e.created_at, e.id;
"""


def main() -> int:
    url = bench_database("BENCH_OUTCOMES_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench_outcomes needs PostgreSQL: set BENCH_OUTCOMES_DATABASE_URL")
        return 1
    ensure_database(url)
    setup_django()

    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from oversight.figures import outcomes
    from service_requests.models import RequestEvent

    call_command("migrate", verbosity=0, interactive=False)
    world = seed.world()
    if seed.world_requests(world, rows=ROWS):
        print(f"seeded {ROWS:,} requests", flush=True)
    if not RequestEvent.objects.exists():
        with connection.cursor() as cursor:
            cursor.execute(EVENTS_SQL)
    events = RequestEvent.objects.count()
    now = timezone.now()
    scenarios = [("last 30 days", now - timedelta(days=30)), ("all time", None)]
    with psycopg.connect(url) as conn:

        def raw() -> None:
            for statement in RAW_SQL.strip().split(";\n"):
                conn.execute(statement).fetchall()

        raw_median = statistics.median(timed_ms(raw, runs=RUNS, warmup=WARMUP))
    print(f"{ROWS:,} requests, {events:,} events; raw read of both: {raw_median:.0f} ms")
    print(f"{'period':<14}{'median ms':>11}{'queries':>9}{'x raw read':>12}")
    for label, since in scenarios:

        def run(since: object = since) -> None:
            outcomes(since=since, until=now)  # type: ignore[arg-type]

        started = time.perf_counter()
        timings = timed_ms(run, runs=RUNS, warmup=WARMUP)
        with CaptureQueriesContext(connection) as captured:
            run()
        median = statistics.median(timings)
        print(
            f"{label:<14}{median:>11.0f}{len(captured):>9}{median / raw_median:>12.1f}"
            f"   ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return 0
