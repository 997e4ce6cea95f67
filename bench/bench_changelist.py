"""Benchmark: the staff admin's requests changelist over 1,000,000 requests on PostgreSQL.

Run with `uv run python -m bench bench_changelist` (or `make bench`). Needs PostgreSQL at
`BENCH_CHANGELIST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/hms_bench`); the
database is created, migrated and seeded by SQL on the first run (a few minutes) and reused
afterwards.

It times GET of the changelist in-process with Django's test client (DEBUG off), for a superuser
and for a reviewer of one program, on page 1, page 400, a status filter and a tracking-number
search: the wall time, and the process's CPU time around the same GET (in-process, that is the
server's CPU for the page: rendering, ORM, the database driver; PostgreSQL's own work runs in
its process and is not counted). It counts the queries of page 1 and page 400, the page's bytes
as rendered and as sent gzip-compressed to a client that accepts it, and, as the baseline, runs
the page's main SELECT as raw SQL through psycopg; it also counts the template lookups that fail
on page 1 (each costs Django a `dir()`). Targets for page 1 and page 400: median under
150 ms, median CPU at most 40 ms, at most 80 KB uncompressed, compressed on the wire, and the
same number of queries on both. Returns non-zero if a target is missed.
"""

from __future__ import annotations

import gzip
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
TARGET_CPU_MS = 40.0
TARGET_BYTES = 80 * 1024
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


def _cpu_timings(get: Any) -> list[float]:
    """Milliseconds of this process's CPU time for each of `RUNS` calls of `get`."""
    timings = []
    for _ in range(RUNS):
        started = time.process_time()
        get()
        timings.append((time.process_time() - started) * 1000)
    return timings


def _page_bytes(client: Any, path: str) -> tuple[int, int, bool]:
    """The page's size as rendered, its size as sent to a client accepting gzip, and whether
    it was sent compressed."""
    plain = client.get(path)
    sent = client.get(path, headers={"accept-encoding": "gzip"})
    compressed = sent.get("Content-Encoding") == "gzip"
    body = sent.content if compressed else gzip.compress(sent.content)
    return len(plain.content), len(body), compressed


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
    from tests.template_lookups import failed_lookups

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
    rows: list[tuple[str, str, float, float, float, float, float]] = []
    sizes: dict[tuple[str, str], tuple[int, int, bool]] = {}
    query_counts: dict[str, dict[str, int]] = {}
    lookups: dict[str, int] = {}
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
            cpu = statistics.median(_cpu_timings(get))
            sizes[persona, label] = _page_bytes(client, path)
            with CaptureQueriesContext(connection) as captured, failed_lookups() as failures:
                get()
            if label == "page 1":
                lookups[persona] = sum(failures.values())
            counts[label] = len(captured)
            raw = _raw_timings(url, _main_select(captured.captured_queries))
            median, raw_median = statistics.median(timings), statistics.median(raw)
            rows.append(
                (
                    persona,
                    label,
                    median,
                    percentile_95(timings),
                    cpu,
                    raw_median,
                    median / raw_median,
                )
            )
            plain, _sent, compressed = sizes[persona, label]
            if label in TARGETED and (
                median >= TARGET_MEDIAN_MS
                or cpu > TARGET_CPU_MS
                or plain > TARGET_BYTES
                or not compressed
            ):
                failed = True
        query_counts[persona] = counts
        if counts["page 1"] != counts["page 400"]:
            failed = True

    print(f"\nrequests changelist, {ROWS:,} rows, {RUNS} runs after {WARMUP} warm-up runs")
    print(f"exact COUNT(*) over the table (not run by the changelist): {exact_count_ms:.1f} ms")
    print(
        f"{'who':<10} {'page':<20} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7}"
        f" {'raw SQL ms':>11} {'ratio':>6} {'KB':>6} {'KB gzip':>8}"
    )
    for persona, label, median, p95, cpu, raw_median, ratio in rows:
        plain, sent, compressed = sizes[persona, label]
        over = median >= TARGET_MEDIAN_MS or cpu > TARGET_CPU_MS or plain > TARGET_BYTES
        if not over and compressed:
            flag = ""
        elif label in TARGETED:
            flag = "  <-- over target" if over else "  <-- sent uncompressed"
        else:
            flag = "  (over a target; not targeted)"
        print(
            f"{persona:<10} {label:<20} {median:>10.1f} {p95:>8.1f} {cpu:>7.1f}"
            f" {raw_median:>11.2f} {ratio:>5.0f}x {plain / 1024:>6.1f}"
            f" {sent / 1024:>7.1f}{'' if compressed else '*'}{flag}"
        )
    print("KB gzip: as sent to a client accepting gzip; * = sent uncompressed, gzip size shown")
    for persona, counts in query_counts.items():
        print(
            f"queries ({persona}): page 1 = {counts['page 1']}, page 400 = {counts['page 400']},"
            f" status filter = {counts['status filter']}, search = {counts['tracking search']}"
        )
    for persona, count in lookups.items():
        print(f"failed template lookups on page 1 ({persona}): {count}")
    print(
        f"targets (page 1 and page 400): median < {TARGET_MEDIAN_MS:.0f} ms, CPU <="
        f" {TARGET_CPU_MS:.0f} ms, <= {TARGET_BYTES // 1024} KB and compressed, equal query"
        " counts: " + ("MISSED" if failed else "met")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
