"""What the benchmarks served by gunicorn share: the environment of their Django processes,
a gunicorn on a free loopback port, the figures of a timed phase of load, and small helpers.

The load clients run in processes of their own; each phase's figures are merged into one
`PhaseResult`, with the CPU the server itself spent meanwhile (`common.server_cpu_seconds`).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WARMUP_SECONDS = 1.0
MAX_REQUESTS_PER_CLIENT = 200_000


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


def django_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Environment of every Django process of the run (manage.py, prep, gunicorn)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            "HMS_TESTING": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-" + "b" * 32,
            "HMS_LEDGER_CHECKPOINT_KEY": "bench-checkpoint-key-not-for-production",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            # All load comes from 127.0.0.1 and a few accounts: no filing limit (bench/settings).
            "BENCH_FILING_LIMIT": "100000000",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        }
    )
    return env


# What `npm ci && npm run build` (scripts/build_assets.mjs) puts under static/vendor/, which
# the pages link to: `collectstatic` with hashed names fails on a page that names a missing one.
BUILT_ASSETS = (
    "uswds/css/uswds.min.css",
    "uswds/js/uswds.min.js",
    "htmx/htmx.min.js",
    "mermaid/mermaid.min.js",
)
BUILD_COMMAND = "npm ci --no-audit --no-fund --loglevel=error && npm run --silent build"


def missing_assets(root: Path = ROOT) -> list[str]:
    """The built front-end files that are not in `root`/static/vendor/."""
    vendor = root / "static" / "vendor"
    return [name for name in BUILT_ASSETS if not (vendor / name).is_file()]


def ensure_assets(root: Path = ROOT, npm: str | None = None) -> None:
    """Build the front-end assets when any is missing (a fresh clone), with npm if it is on
    the PATH; otherwise, or if the build fails or leaves one missing, stop with the command
    to run."""
    missing = missing_assets(root)
    if not missing:
        return
    npm = npm if npm is not None else shutil.which("npm")
    hint = f"run `{BUILD_COMMAND}` in {root}, then the benchmark again"
    if not npm:
        raise SystemExit(f"static/vendor/{missing[0]} is missing and npm is not installed: {hint}")
    print(f"static/vendor/{missing[0]} is missing: building the front-end assets", flush=True)
    for args in (
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        [npm, "run", "--silent", "build"],
    ):
        if subprocess.run(args, cwd=root, check=False).returncode:
            raise SystemExit(f"`{' '.join(args[1:])}` failed: {hint}")
    missing = missing_assets(root)
    if missing:
        raise SystemExit(f"static/vendor/{missing[0]} is still missing after the build: {hint}")


def flush_redis(redis_url: str) -> None:
    """Empty the bench Redis database (cache, cached sessions, enqueued Celery tasks)."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def run(env: dict[str, str], *args: str) -> str:
    """Run a Python module or script of the project with the bench environment; return stdout."""
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RuntimeError(f"{' '.join(args)} exited with {done.returncode}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def running(
    command: list[str],
    env: dict[str, str],
    log: Path,
    *,
    what: str,
    is_ready: Callable[[], bool],
    ready_seconds: float = 60,
    stop_seconds: float = 20,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` in the project (its output in `log`), wait until `is_ready()`; always
    stop it after: SIGTERM, then SIGKILL to its process group if it has not stopped in
    `stop_seconds`."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + ready_seconds
        while not is_ready():
            if process.poll() is not None:
                output = log.read_text(errors="replace")
                raise RuntimeError(f"{what} exited with {process.returncode}:\n{output}")
            if time.monotonic() > deadline:
                output = log.read_text(errors="replace")
                raise RuntimeError(f"{what} was not ready within {ready_seconds:g} s:\n{output}")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=stop_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int) -> Iterator[int]:
    """Serve the portal with gunicorn (`workers` sync workers) on a free loopback port; always
    stop it."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "hms_portal.wsgi",
        "--workers", str(workers), "--threads", "1", "-k", "sync",
        "--bind", f"{HOST}:{port}", "--backlog", "256", "--log-level", "warning",
    ]  # fmt: skip

    def answers() -> bool:
        with contextlib.suppress(OSError):
            return get(port, "/bench/ping/")[0] == 200
        return False

    with running(command, env, log, what="gunicorn", is_ready=answers):
        yield port


def timed_requests(
    job: dict[str, Any], send: Callable[[http.client.HTTPConnection], str]
) -> dict[str, Any]:
    """One load client: `send` one request on a keep-alive connection and return what is wrong
    with the answer ("" when nothing), as fast as answers come, from `job["begin"]` to the end
    of the phase (`WARMUP_SECONDS` of warm-up, then `job["seconds"]` counted). Returns the
    client's figures for `PhaseResult.add`."""
    conn = http.client.HTTPConnection(HOST, job["port"], timeout=30)
    count = errors = served = 0
    samples: list[str] = []
    latencies: list[float] = []
    time.sleep(max(0.0, job["begin"] - time.time()))
    start = job["begin"] + WARMUP_SECONDS
    stop = start + job["seconds"]
    while count + errors < MAX_REQUESTS_PER_CLIENT:
        began = time.time()
        if began >= stop:
            break
        try:
            problem = send(conn)
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


def csrf_token() -> str:
    """A token in the format Django's CSRF check accepts: the same value goes in the cookie and
    in the form field, which is all the check compares on plain HTTP."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def ready(index: int) -> int:
    """Nothing: lets the pool's processes start (and import this module) before any timing."""
    return index
