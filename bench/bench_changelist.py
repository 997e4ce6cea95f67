"""Benchmark: the staff admin's requests changelist over 1,000,000 requests on PostgreSQL.

Run with `uv run python -m bench bench_changelist` (or `make bench`). Needs PostgreSQL at
`BENCH_CHANGELIST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/hms_bench`); the
database is created, migrated and seeded by SQL on the first run (a few minutes) and reused
afterwards.

It times GET of the changelist in-process with Django's test client (DEBUG off), for a superuser
and for a reviewer of one program, on page 1, page 400, a status filter and a tracking-number
search; counts the queries of page 1 and page 400; and, as the baseline, runs the page's main
SELECT as raw SQL through psycopg. Targets: median under 150 ms, and the same number of queries
on page 1 and page 400. Returns non-zero if a target is missed.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from bench import seed
from bench.common import bench_database, ensure_database, percentile_95, setup_django, timed_ms

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench"
ROWS = 1_000_000
RUNS = 30
WARMUP = 5
TARGET_MEDIAN_MS = 150.0
# The target covers the plain changelist at page 1 and page 400; the filtered and
# searched pages are measured and printed beside them for information.
TARGETED = ("page 1", "page 400")
CHANGELIST = "/admin/service_requests/servicerequest/"


def _seed(world: dict[str, Any]) -> None:
    """Insert the 1,000,000 requests by SQL unless they are there already (`bench.seed`)."""
    from service_requests.models import ServiceRequest

    present = ServiceRequest.objects.count()
    if present >= ROWS:
        print(f"{present:,} requests present: not reseeding", flush=True)
        return
    if present:
        raise SystemExit(
            f"{present:,} requests present, fewer than {ROWS:,}: drop the benchmark database "
            "and run again."
        )
    print(f"seeding {ROWS:,} requests by SQL ...", flush=True)
    started = time.perf_counter()
    seed.world_requests(world, rows=ROWS)
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def _main_select(queries: list[dict[str, str]]) -> str:
    """The changelist's page query: the ordered SELECT of request rows (LIMIT when paged)."""
    for query in queries:
        sql = query["sql"]
        if sql.startswith('SELECT "service_requests_servicerequest"."id", ') and "ORDER BY" in sql:
            return sql
    raise RuntimeError("no page query captured")


def _raw_timings(url: str, sql: str) -> list[float]:
    import psycopg

    with psycopg.connect(url) as conn:
        return timed_ms(lambda: conn.execute(sql).fetchall(), runs=RUNS, warmup=WARMUP)


def main() -> int:
    """Seed if needed, time the changelist, print the figures; non-zero if a target is missed."""
    url = bench_database("BENCH_CHANGELIST_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        print(
            "bench_changelist needs PostgreSQL: "
            "set BENCH_CHANGELIST_DATABASE_URL to a postgres:// URL"
        )
        return 1
    ensure_database(url)
    setup_django()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.builders import mark_signed_in_with_mfa

    call_command("migrate", verbosity=0, interactive=False)
    world = seed.world()
    _seed(world)

    from service_requests.models import ServiceRequest

    sample = ServiceRequest.objects.order_by("pk").values_list("tracking_number", flat=True)[
        ROWS // 3
    ]
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SELECT count(*) FROM service_requests_servicerequest")
        exact_count_ms = (time.perf_counter() - started) * 1000

    scenarios = [
        ("page 1", ""),
        ("page 400", "?p=400"),
        ("status filter", "?status__exact=in_review"),
        ("status filter p.400", "?status__exact=in_review&p=400"),
        ("tracking search", f"?q={sample}"),
    ]
    failed = False
    rows: list[tuple[str, str, float, float, float, float]] = []
    query_counts: dict[str, dict[str, int]] = {}
    for persona in ("superuser", "reviewer"):
        client = Client()
        client.force_login(world[persona])
        mark_signed_in_with_mfa(client, world[persona])  # staff pages need the second factor
        counts: dict[str, int] = {}
        for label, query in scenarios:
            path = CHANGELIST + query

            def get(path: str = path, client: Client = client) -> None:
                response = client.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}")

            timings = timed_ms(get, runs=RUNS, warmup=WARMUP)
            with CaptureQueriesContext(connection) as captured:
                get()
            counts[label] = len(captured)
            raw = _raw_timings(url, _main_select(captured.captured_queries))
            median, raw_median = statistics.median(timings), statistics.median(raw)
            rows.append(
                (persona, label, median, percentile_95(timings), raw_median, median / raw_median)
            )
            if label in TARGETED and median >= TARGET_MEDIAN_MS:
                failed = True
        query_counts[persona] = counts
        if counts["page 1"] != counts["page 400"]:
            failed = True

    print(f"\nrequests changelist, {ROWS:,} rows, {RUNS} runs after {WARMUP} warm-up runs")
    print(f"exact COUNT(*) over the table (not run by the changelist): {exact_count_ms:.1f} ms")
    print(
        f"{'who':<10} {'page':<20} {'median ms':>10} {'p95 ms':>8} {'raw SQL ms':>11} {'ratio':>6}"
    )
    for persona, label, median, p95, raw_median, ratio in rows:
        if median < TARGET_MEDIAN_MS:
            flag = ""
        else:
            flag = "  <-- over target" if label in TARGETED else "  (over 150 ms; not targeted)"
        print(
            f"{persona:<10} {label:<20} {median:>10.1f} {p95:>8.1f} {raw_median:>11.2f}"
            f" {ratio:>5.0f}x{flag}"
        )
    for persona, counts in query_counts.items():
        print(
            f"queries ({persona}): page 1 = {counts['page 1']}, page 400 = {counts['page 400']},"
            f" status filter = {counts['status filter']}, search = {counts['tracking search']}"
        )
    print(
        f"targets (page 1 and page 400): median < {TARGET_MEDIAN_MS:.0f} ms and equal query "
        "counts: " + ("MISSED" if failed else "met")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
