"""Benchmark: the first request a fresh gunicorn worker serves, with the portal's gunicorn.conf.py
and, as the baseline in the same run, without it (no preload, no warm-up).

Run with `uv run python -m bench bench_cold_start`. Needs PostgreSQL at
`BENCH_COLD_DATABASE_URL` (default: bench_changelist's database,
`postgres://postgres@127.0.0.1:5432/hms_bench`; created and given the bench's staff users if
missing) and Redis at `BENCH_COLD_REDIS_URL` (default db 13).

For each configuration it starts gunicorn with one sync worker, waits until the worker has
booted (gunicorn's `post_worker_init` hook, which runs after the worker loaded the application
and before it accepts a connection), then times the worker's first GET of the staff admin's
requests changelist (a signed-in superuser, second factor done) and the median of the next
ones; it does this `STARTS` times. Target: the first request under 150 ms with the portal's
configuration. Returns non-zero if it is missed.
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import serving
from bench.common import bench_database, ensure_database

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hms_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
STARTS = 5
WARM_RUNS = 10
TARGET_FIRST_MS = 150.0
PATH = "/admin/service_requests/servicerequest/"

# A config file that loads the portal's gunicorn.conf.py (or nothing, for the baseline) and
# adds a hook that marks the worker as booted.
MARKER_HOOK = """
def post_worker_init(worker):
    open({marker!r}, "w").close()
"""


def _config(directory: Path, *, portal: bool) -> tuple[Path, Path]:
    marker = directory / ("portal.booted" if portal else "plain.booted")
    config = directory / ("portal.conf.py" if portal else "plain.conf.py")
    text = ""
    if portal:
        text = f"exec(open({str(serving.ROOT / 'gunicorn.conf.py')!r}).read())\n"
    config.write_text(text + MARKER_HOOK.format(marker=str(marker)))
    return config, marker


def _session_cookie(env: dict[str, str]) -> str:
    """A signed-in superuser's session (second factor done), made through Django."""
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from bench import seed
    from tests.builders import mark_signed_in_with_mfa

    call_command("migrate", verbosity=0, interactive=False)
    world = seed.world()
    client = Client()
    client.force_login(world["superuser"])
    mark_signed_in_with_mfa(client, world["superuser"])
    return f"sessionid={client.cookies['sessionid'].value}"


def _get_ms(port: int, cookie: str) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection(serving.HOST, port, timeout=30)
    try:
        conn.request("GET", PATH, headers={"Cookie": cookie})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{PATH} answered {response.status}")
    finally:
        conn.close()
    return (time.perf_counter() - started) * 1000


def _one_start(
    env: dict[str, str], config: Path, marker: Path, cookie: str, log: Path
) -> tuple[float, float]:
    """Start gunicorn, wait for its worker, time the first request and the warm ones."""
    marker.unlink(missing_ok=True)
    port = serving.free_port()
    command = [
        sys.executable, "-m", "gunicorn", "hms_portal.wsgi", "-c", str(config),
        "--workers", "1", "-k", "sync", "--bind", f"{serving.HOST}:{port}",
        "--log-level", "warning",
    ]  # fmt: skip
    with serving.running(
        command, env, log, what="gunicorn", is_ready=marker.exists, ready_seconds=120
    ):
        time.sleep(0.3)  # the worker enters its accept loop
        first = _get_ms(port, cookie)
        warm = statistics.median(_get_ms(port, cookie) for _ in range(WARM_RUNS))
    return first, warm


def main() -> int:
    """Time the first and the warm requests of fresh workers; non-zero if the target is missed."""
    url = bench_database("BENCH_COLD_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench_cold_start needs PostgreSQL: set BENCH_COLD_DATABASE_URL to a postgres:// URL")
        return 1
    ensure_database(url)
    redis_url = os.environ.get("BENCH_COLD_REDIS_URL", DEFAULT_REDIS)
    env = serving.django_env(url, redis_url)
    cookie = _session_cookie(env)
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        directory = Path(tmp)
        for label, portal in (("no config (baseline)", False), ("gunicorn.conf.py", True)):
            config, marker = _config(directory, portal=portal)
            log = directory / f"{marker.stem}.log"
            results[label] = [_one_start(env, config, marker, cookie, log) for _ in range(STARTS)]

    print(f"\nfirst request of a fresh worker: GET {PATH} as a superuser, {STARTS} starts each")
    print(f"{'configuration':<22} {'first ms (median)':>18} {'first max':>10} {'warm ms':>8}")
    medians = {}
    for label, runs in results.items():
        firsts = [first for first, _warm in runs]
        warm = statistics.median(w for _first, w in runs)
        medians[label] = statistics.median(firsts)
        print(f"{label:<22} {medians[label]:>18.1f} {max(firsts):>10.1f} {warm:>8.1f}")
    baseline, portal_first = medians["no config (baseline)"], medians["gunicorn.conf.py"]
    print(f"first request with the portal's config: {baseline / portal_first:.1f}x faster")
    worst = max(first for first, _warm in results["gunicorn.conf.py"])
    met = worst < TARGET_FIRST_MS
    print(
        f"target: every first request under {TARGET_FIRST_MS:.0f} ms with gunicorn.conf.py: "
        + ("met" if met else "MISSED")
    )
    return 0 if met else 1
