"""What the benchmarks share: their own database (never `DATABASE_URL` as given) and Django."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit


def bench_database(variable: str, default: str) -> str:
    """The benchmark's database URL from `variable` (else `default`), made the process's
    `DATABASE_URL`: a DATABASE_URL pointing at a real database is never seeded."""
    url = os.environ.get(variable, default)
    os.environ["DATABASE_URL"] = url
    return url


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            print(f"creating database {name}", flush=True)
            conn.execute(f'CREATE DATABASE "{name}"')


def server_cpu_seconds(port: int) -> float:
    """CPU seconds (user and system) used so far by the gunicorn serving on loopback `port`:
    its master and every worker, found by the bind address on their command lines. What the
    server itself spends per request, apart from the load clients, PostgreSQL and anything
    else sharing the cores."""
    bind = f"127.0.0.1:{port}".encode()
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                if bind not in cmdline.read():
                    continue
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def setup_django() -> None:
    """Django with production settings as the test client sees them (no TLS redirect, plain
    static storage, tasks in-process)."""
    os.environ["DEBUG"] = "false"
    os.environ["HMS_TESTING"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hms_portal.settings")
    import django

    django.setup()


def timed_ms(run: Callable[[], object], *, runs: int = 30, warmup: int = 5) -> list[float]:
    """Milliseconds of each of `runs` calls of `run`, after `warmup` untimed calls."""
    for _ in range(warmup):
        run()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile_95(values: list[float]) -> float:
    """The 95th percentile of `values`."""
    return statistics.quantiles(values, n=20)[-1]


def migrated_postgres(variable: str, default: str, bench: str) -> bool:
    """Point Django at the benchmark's PostgreSQL database (`variable`, else `default`),
    created if missing and migrated. False (with a message) when the URL is not PostgreSQL."""
    url = bench_database(variable, default)
    if not url.startswith(("postgres://", "postgresql://")):
        print(f"{bench} needs PostgreSQL: set {variable} to a postgres:// URL")
        return False
    ensure_database(url)
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return True
