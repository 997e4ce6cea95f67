"""Public submission throughput under gunicorn on PostgreSQL, against a bare insert view.

Issue target: the civilian's full form submission (`POST /requests/new/`, signed in, CSRF
checked, one request filed, its email's outbox row handed to the workers by a `NOTIFY` in its
transaction, no broker publish) must reach at least half the throughput of a bare Django view
that inserts one row (`POST /bench/bare-insert/`), both measured in the same run on the same
gunicorn, middleware and PostgreSQL database.

A third phase measures the floor of the signed-in path (`POST /bench/signed-in-insert/`):
the same session, user, CSRF check and form body as a submission, then the bare view's one
insert and a redirect. Its ratio to the bare view is the most any signed-in submission could
reach on this stack, whatever it files. Before the timed phases, an unrecorded phase of each
kind (2 s) lets every gunicorn worker pay its one-time costs.

Run: `uv run python -m bench bench_submission`. Environment (all optional):
`BENCH_SUBMIT_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/hms_bench_submit,
created if missing and migrated), `BENCH_SUBMIT_REDIS_URL` (default redis://127.0.0.1:6379/14,
flushed before and after), `BENCH_SUBMIT_WORKERS` (gunicorn sync workers, 2 x cores + 1),
`BENCH_SUBMIT_CLIENTS` (8), `BENCH_SUBMIT_SECONDS` (8 measured seconds per phase after
1 s of warm-up), `BENCH_SUBMIT_ROUNDS` (2: bare, signed, submit, twice; the best of each
counts).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.common import ensure_database, server_cpu_seconds
from bench.serving import (
    PhaseResult,
    csrf_token,
    django_env,
    flush_redis,
    get,
    gunicorn,
    ready,
    run,
    timed_requests,
)
from bench.submission_prep import DESCRIPTION, submission_form
from bench.views import BARE_TABLE, BARE_TABLE_SQL

TARGET_RATIO = 0.5
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_submit"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SUBMIT_PATH = "/requests/new/"
BARE_PATH = "/bench/bare-insert/"
SIGNED_PATH = "/bench/signed-in-insert/"
# Each phase's kind: the path it posts to and the status every answer must have.
KINDS = {"bare": (BARE_PATH, 201), "signed": (SIGNED_PATH, 302), "submit": (SUBMIT_PATH, 302)}
CONFIRMATION = re.compile(r"^(https?://[^/]+)?/requests/HMS-\d{4}-\d{6,}/confirmation/$")


@dataclass(frozen=True)
class Config:
    """What the run measures against, read from the environment."""

    database_url: str
    redis_url: str
    clients: int
    seconds: float
    rounds: int
    workers: int

    @classmethod
    def from_env(cls) -> Config:
        """Read the configuration, with the documented defaults."""
        return cls(
            database_url=os.environ.get("BENCH_SUBMIT_DATABASE_URL", DEFAULT_DATABASE_URL),
            redis_url=os.environ.get("BENCH_SUBMIT_REDIS_URL", DEFAULT_REDIS_URL),
            clients=int(os.environ.get("BENCH_SUBMIT_CLIENTS", "8")),
            seconds=float(os.environ.get("BENCH_SUBMIT_SECONDS", "8")),
            rounds=int(os.environ.get("BENCH_SUBMIT_ROUNDS", "2")),
            # gunicorn's recommended sync worker count for the machine: 2 x cores + 1.
            workers=int(os.environ.get("BENCH_SUBMIT_WORKERS", str(2 * (os.cpu_count() or 1) + 1))),
        )


def _prepare_bare_table(database_url: str) -> None:
    """Create the baseline's table and empty it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(BARE_TABLE_SQL)
        conn.execute(f"TRUNCATE {BARE_TABLE}")


def _client_loop(job: dict[str, Any]) -> dict[str, Any]:
    """One client: POST its kind's form as fast as answers come, on one keep-alive connection,
    from `begin` + warm-up to the end of the phase; a submission must be answered by a redirect
    to its confirmation page."""
    kind: str = job["kind"]
    csrf = job["csrf"]
    cookie = f"{job['session_cookie_name']}={job['session']}; {job['csrf_cookie_name']}={csrf}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    path, expected = KINDS[kind]

    def send(conn: http.client.HTTPConnection) -> str:
        if kind == "bare":
            form = {"body": DESCRIPTION, "token": str(uuid.uuid4())}
        else:
            form = submission_form(service_type_id=job["service_type_id"], index=job["index"])
            form["csrfmiddlewaretoken"] = csrf
        conn.request("POST", path, body=urllib.parse.urlencode(form), headers=headers)
        response = conn.getresponse()
        content = response.read()
        location = response.getheader("Location", "")
        if response.status != expected:
            return f"{response.status} {location} {content[:300]!r}"
        if kind == "submit" and not CONFIRMATION.match(location):
            return f"302 to unexpected {location!r}"
        return ""

    return timed_requests(job, send)


def _phase(
    pool: Any, kind: str, port: int, prep: dict[str, Any], csrf: list[str], seconds: float
) -> PhaseResult:
    """Run one timed phase with every client at once and merge their figures."""
    begin = time.time() + 0.3
    jobs = [
        {
            "kind": kind,
            "index": index,
            "port": port,
            "session": session,
            "csrf": csrf[index],
            "session_cookie_name": prep["session_cookie_name"],
            "csrf_cookie_name": prep["csrf_cookie_name"],
            "service_type_id": prep["service_type_id"],
            "begin": begin,
            "seconds": seconds,
        }
        for index, session in enumerate(prep["sessions"])
    ]
    result = PhaseResult(kind=kind, seconds=seconds)
    cpu_before = server_cpu_seconds(port)
    for part in pool.map(_client_loop, jobs, chunksize=1):
        result.add(part)
    result.server_cpu = server_cpu_seconds(port) - cpu_before
    return result


def _check_pages(port: int, prep: dict[str, Any], csrf: str) -> None:
    """One GET of the form page, signed in, as a civilian's browser would do first."""
    cookie = f"{prep['session_cookie_name']}={prep['sessions'][0]}; csrftoken={csrf}"
    try:
        status, _ = get(port, SUBMIT_PATH, {"Cookie": cookie})
    except (OSError, http.client.HTTPException) as error:
        status = f"{type(error).__name__}"  # type: ignore[assignment]
    note = "" if status == 200 else " (not measured; the POST path renders no template)"
    print(f"GET {SUBMIT_PATH} signed in: {status}{note}", flush=True)


def _report(config: Config, prep: dict[str, Any], phases: list[PhaseResult]) -> tuple[float, int]:
    """Print every phase, the best of each kind and the ratio; return (ratio, errors)."""
    print(f"phases ({config.clients} clients, {config.seconds:g} s each after 1 s warm-up):")
    for result in phases:
        print("  " + result.line())
        for sample in result.error_samples:
            print(f"    error: {sample}")
    best = {kind: max((r for r in phases if r.kind == kind), key=lambda r: r.rps) for kind in KINDS}
    medians = {kind: statistics.median(r.rps for r in phases if r.kind == kind) for kind in best}
    print("best of each:")
    for kind in KINDS:
        print("  " + best[kind].line() + f"  (median {medians[kind]:.1f} req/s)")
    print(
        f"SQL queries per request (in-process, Django test client): "
        f"submit {prep['submit_queries']}, bare {prep['bare_queries']}"
    )
    for number, sql in enumerate(prep["submit_sql"], 1):
        print(f"  {number:2d}. {sql[:150]}")
    cpu = {
        kind: statistics.median(r.server_cpu_ms for r in phases if r.kind == kind) for kind in best
    }
    print(
        f"server CPU per request (gunicorn's processes, median of rounds): submit "
        f"{cpu['submit']:.2f} ms, signed-in floor {cpu['signed']:.2f} ms, bare "
        f"{cpu['bare']:.2f} ms; bare / submit "
        f"{cpu['bare'] / cpu['submit'] if cpu['submit'] else 0.0:.3f}"
    )
    rps = {kind: best[kind].rps for kind in KINDS}
    print(
        f"signed-in floor = signed_rps / bare_rps = {rps['signed']:.1f} / {rps['bare']:.1f} "
        f"= {rps['signed'] / rps['bare'] if rps['bare'] else 0.0:.3f} (the most a signed-in "
        f"submission could reach); submit / signed = "
        f"{rps['submit'] / rps['signed'] if rps['signed'] else 0.0:.3f}"
    )
    ratio = best["submit"].rps / best["bare"].rps if best["bare"].rps else 0.0
    errors = sum(r.errors for r in phases)
    verdict = "PASS" if ratio >= TARGET_RATIO and not errors else "FAIL"
    print(
        f"ratio = submit_rps / bare_rps = {best['submit'].rps:.1f} / {best['bare'].rps:.1f} "
        f"= {ratio:.3f} (target >= {TARGET_RATIO}, errors {errors}): {verdict}",
        flush=True,
    )
    return ratio, errors


def main() -> int:
    """Prepare PostgreSQL and Redis, serve with gunicorn, measure the phases in turn."""
    config = Config.from_env()
    env = django_env(config.database_url, config.redis_url)
    print(f"database {config.database_url}, redis {config.redis_url}", flush=True)
    ensure_database(config.database_url)
    run(env, "manage.py", "migrate", "--noinput", "-v", "0")
    _prepare_bare_table(config.database_url)
    flush_redis(config.redis_url)
    try:
        prep = json.loads(
            run(env, "-m", "bench.submission_prep", "prepare", str(config.clients))
            .strip()
            .splitlines()[-1]
        )
        csrf = [csrf_token() for _ in prep["sessions"]]
        phases: list[PhaseResult] = []
        with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
            log = Path(tmp) / "gunicorn.log"
            with gunicorn(env, log, config.workers) as port:
                _check_pages(port, prep, csrf[0])
                context = multiprocessing.get_context("spawn")
                with context.Pool(config.clients) as pool:
                    pool.map(ready, range(config.clients), chunksize=1)
                    # Every worker's first requests pay one-time costs (imports, connections):
                    # an unrecorded phase of each kind first, so no timed phase carries them.
                    for kind in KINDS:
                        _phase(pool, kind, port, prep, csrf, 1.0)
                    for _ in range(config.rounds):
                        for kind in KINDS:
                            result = _phase(pool, kind, port, prep, csrf, config.seconds)
                            print("  " + result.line(), flush=True)
                            phases.append(result)
            server_log = log.read_text(errors="replace")
            if "ERROR" in server_log or "Traceback" in server_log:
                print("gunicorn log (tail):\n" + server_log[-3000:])
    finally:
        flush_redis(config.redis_url)
    ratio, errors = _report(config, prep, phases)
    return 0 if ratio >= TARGET_RATIO and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
