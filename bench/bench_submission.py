"""Public submission throughput under gunicorn on PostgreSQL, against a bare insert view.

Issue target: the civilian's full form submission (`POST /requests/new/`, signed in, CSRF
checked, one request filed, its notification enqueued to Redis on commit) must reach at least
half the throughput of a bare Django view that inserts one row (`POST /bench/bare-insert/`),
both measured in the same run on the same gunicorn, middleware and PostgreSQL database.

A third phase measures the floor of the signed-in path (`POST /bench/signed-in-insert/`):
the same session, user, CSRF check and form body as a submission, then the bare view's one
insert and a redirect. Its ratio to the bare view is the most any signed-in submission could
reach on this stack, whatever it files.

Run: `uv run python -m bench bench_submission`. Environment (all optional):
`BENCH_SUBMIT_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/hms_bench_submit,
created if missing and migrated), `BENCH_SUBMIT_REDIS_URL` (default redis://127.0.0.1:6379/14,
flushed before and after), `BENCH_SUBMIT_WORKERS` (gunicorn sync workers, 2 x cores + 1),
`BENCH_SUBMIT_CLIENTS` (8), `BENCH_SUBMIT_SECONDS` (8 measured seconds per phase after
1 s of warm-up), `BENCH_SUBMIT_ROUNDS` (2: bare, signed, submit, twice; the best of each
counts).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import re
import secrets
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench.common import ensure_database, server_cpu_seconds
from bench.submission_prep import DESCRIPTION, submission_form
from bench.views import BARE_TABLE, BARE_TABLE_SQL

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5
HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_submit"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
SUBMIT_PATH = "/requests/new/"
BARE_PATH = "/bench/bare-insert/"
SIGNED_PATH = "/bench/signed-in-insert/"
# Each phase's kind: the path it posts to and the status every answer must have.
KINDS = {"bare": (BARE_PATH, 201), "signed": (SIGNED_PATH, 302), "submit": (SUBMIT_PATH, 302)}
CONFIRMATION = re.compile(r"^(https?://[^/]+)?/requests/HMS-\d{4}-\d{6,}/confirmation/$")
WARMUP_SECONDS = 1.0
MAX_REQUESTS_PER_CLIENT = 200_000


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


@dataclass
class PhaseResult:
    """Merged figures of all clients for one timed phase."""

    kind: str
    seconds: float
    count: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    # Every answer of the phase (warm-up included) and the server's CPU seconds meanwhile.
    served: int = 0
    server_cpu: float = 0.0

    @property
    def server_cpu_ms(self) -> float:
        """The server's CPU milliseconds per request answered (0 when nothing was answered)."""
        return self.server_cpu * 1000 / self.served if self.served else 0.0

    @property
    def rps(self) -> float:
        """Successful requests per second over the measured window."""
        return self.count / self.seconds

    def percentile(self, fraction: float) -> float:
        """Latency percentile in milliseconds (0 when nothing was measured)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
        return ordered[index] * 1000

    def line(self) -> str:
        """One printable line of this phase's figures."""
        return (
            f"{self.kind:<7} {self.rps:8.1f} req/s  p50 {self.percentile(0.5):6.1f} ms  "
            f"p95 {self.percentile(0.95):6.1f} ms  ok {self.count:6d}  errors {self.errors}  "
            f"server CPU {self.server_cpu_ms:5.2f} ms/req"
        )

    def add(self, part: dict[str, Any]) -> None:
        """Merge one client's figures."""
        self.count += part["count"]
        self.errors += part["errors"]
        self.error_samples += part["samples"]
        self.latencies += part["latencies"]
        self.served += part["served"]

    def extend(self, other: PhaseResult) -> None:
        """Pool another phase's figures of the same kind into this one."""
        self.count += other.count
        self.errors += other.errors
        self.error_samples += other.error_samples
        self.latencies += other.latencies
        self.served += other.served
        self.server_cpu += other.server_cpu


def _django_env(config: Config) -> dict[str, str]:
    """Environment of every Django process of the run (manage.py, prep, gunicorn)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": config.database_url,
            "REDIS_URL": config.redis_url,
            "DEBUG": "false",
            "HMS_TESTING": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-" + "b" * 32,
            "HMS_LEDGER_CHECKPOINT_KEY": "bench-checkpoint-key-not-for-production",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        }
    )
    return env


def _prepare_bare_table(database_url: str) -> None:
    """Create the baseline's table and empty it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(BARE_TABLE_SQL)
        conn.execute(f"TRUNCATE {BARE_TABLE}")


def _flush_redis(redis_url: str) -> None:
    """Empty the bench Redis database (cache, cached sessions, enqueued Celery tasks)."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def _run(env: dict[str, str], *args: str) -> str:
    """Run a Python module or script of the project with the bench environment; return stdout."""
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RuntimeError(f"{' '.join(args)} exited with {done.returncode}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def _gunicorn(env: dict[str, str], log: Path, workers: int) -> Iterator[int]:
    """Serve the portal with gunicorn (`workers` sync workers) on a free loopback port; always
    stop it."""
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "hms_portal.wsgi",
        "--workers", str(workers), "--threads", "1", "-k", "sync",
        "--bind", f"{HOST}:{port}", "--backlog", "256", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError):
                if _get(port, "/bench/ping/")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _csrf_token() -> str:
    """A token in the format Django's CSRF check accepts: the same value goes in the cookie and
    in the form field, which is all the check compares on plain HTTP."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _client_loop(job: dict[str, Any]) -> dict[str, Any]:
    """One client: POST as fast as answers come, on one keep-alive connection, from `start`
    (after warm-up) to `stop`; return its count, latencies and errors."""
    kind: str = job["kind"]
    index: int = job["index"]
    csrf = job["csrf"]
    cookie = f"{job['session_cookie_name']}={job['session']}; {job['csrf_cookie_name']}={csrf}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    path, expected = KINDS[kind]
    conn = http.client.HTTPConnection(HOST, job["port"], timeout=30)
    count = errors = served = 0
    samples: list[str] = []
    latencies: list[float] = []
    time.sleep(max(0.0, job["begin"] - time.time()))
    start, stop = job["begin"] + WARMUP_SECONDS, job["begin"] + WARMUP_SECONDS + job["seconds"]
    while count + errors < MAX_REQUESTS_PER_CLIENT:
        if kind != "bare":
            form = submission_form(service_type_id=job["service_type_id"], index=index)
            form["csrfmiddlewaretoken"] = csrf
        else:
            form = {"body": DESCRIPTION, "token": str(uuid.uuid4())}
        body = urllib.parse.urlencode(form)
        began = time.time()
        if began >= stop:
            break
        problem = ""
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
            location = response.getheader("Location", "")
            if response.status != expected:
                problem = f"{response.status} {location} {content[:300]!r}"
            elif kind == "submit" and not CONFIRMATION.match(location):
                problem = f"302 to unexpected {location!r}"
        except (OSError, http.client.HTTPException) as error:
            problem = f"{type(error).__name__}: {error}"
            conn.close()
        ended = time.time()
        served += 1
        if began < start:
            continue  # warm-up: not counted
        if problem:
            errors += 1
            if len(samples) < 5:
                samples.append(problem)
        elif ended <= stop:
            count += 1
            latencies.append(ended - began)
    conn.close()
    return {
        "count": count,
        "errors": errors,
        "samples": samples,
        "latencies": latencies,
        "served": served,
    }


def _ready(index: int) -> int:
    """Nothing: lets the pool's processes start (and import this module) before any timing."""
    return index


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
        status, _ = _get(port, SUBMIT_PATH, {"Cookie": cookie})
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
    env = _django_env(config)
    print(f"database {config.database_url}, redis {config.redis_url}", flush=True)
    ensure_database(config.database_url)
    _run(env, "manage.py", "migrate", "--noinput", "-v", "0")
    _prepare_bare_table(config.database_url)
    _flush_redis(config.redis_url)
    try:
        prep = json.loads(
            _run(env, "-m", "bench.submission_prep", "prepare", str(config.clients))
            .strip()
            .splitlines()[-1]
        )
        csrf = [_csrf_token() for _ in prep["sessions"]]
        phases: list[PhaseResult] = []
        with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
            log = Path(tmp) / "gunicorn.log"
            with _gunicorn(env, log, config.workers) as port:
                _check_pages(port, prep, csrf[0])
                context = multiprocessing.get_context("spawn")
                with context.Pool(config.clients) as pool:
                    pool.map(_ready, range(config.clients), chunksize=1)
                    for _ in range(config.rounds):
                        for kind in KINDS:
                            result = _phase(pool, kind, port, prep, csrf, config.seconds)
                            print("  " + result.line(), flush=True)
                            phases.append(result)
            server_log = log.read_text(errors="replace")
            if "ERROR" in server_log or "Traceback" in server_log:
                print("gunicorn log (tail):\n" + server_log[-3000:])
    finally:
        _flush_redis(config.redis_url)
    ratio, errors = _report(config, prep, phases)
    return 0 if ratio >= TARGET_RATIO and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
