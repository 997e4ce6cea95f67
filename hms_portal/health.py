"""Health and readiness for load balancers and orchestrators.

- `GET /healthz`: the process is alive. No I/O at all (no database, cache, session or
  template), so it answers 200 `{"status": "ok"}` as long as a worker can take a request.
- `GET /readyz`: the dependencies answer: the database runs `SELECT 1`, and Redis (broker and
  cache, when `REDIS_URL` is set) answers PING, each within `READY_TIMEOUT`. 200
  `{"status": "ready", "checks": {...}}`, or 503 `{"status": "unavailable", "checks": {...}}`
  with each failed check named (`"unreachable: connection refused"`). Never a 500: a check
  that raises is a failed check.

`HealthCheckMiddleware`, first in `MIDDLEWARE`, answers both paths before any other
middleware: a load balancer probes a machine by its address (a host name outside
`ALLOWED_HOSTS`), over plain HTTP behind the TLS proxy (no HTTPS redirect), and must get
neither a session cookie nor a language redirect. Nothing here reflects the Host header or
reads an app's tables.

The database probe opens a connection of its own (the request's persistent connection may be
inside a transaction, and a dead one would be re-opened with the full `connect_timeout`) and
closes it. The checks run in threads that the answer does not wait for beyond the deadline: a
database that hangs makes the probe answer 503 in about a second, and the abandoned thread
ends when libpq gives up (its shortest `connect_timeout` is 2 s) or the statement is
cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

READY_TIMEOUT = 1.0  # seconds, for each dependency
OK = "ok"
SKIPPED_CACHE = "skipped: no REDIS_URL (local-memory cache, tasks in-process)"


@never_cache
@csrf_exempt
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: no I/O."""
    return JsonResponse({"status": "ok"})


@never_cache
@csrf_exempt
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """The database and Redis answer within `READY_TIMEOUT`; 503 naming what did not."""
    checks: dict[str, Callable[[], None]] = {"database": _check_database}
    if settings.REDIS_URL:
        checks["cache"] = _check_cache
    results = _run(checks, timeout=READY_TIMEOUT)
    if not settings.REDIS_URL:
        results["cache"] = SKIPPED_CACHE
    ready = all(results[name] == OK for name in checks)
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}


class HealthCheckMiddleware:
    """Answer `/healthz` and `/readyz` before the rest of the middleware (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


# --- Checks ---------------------------------------------------------------------------------


def _check_database() -> None:
    """`SELECT 1` on a new connection with the portal's settings, bounded by the server too."""
    params = dict(connections[DEFAULT_DB_ALIAS].settings_dict)
    options = dict(params.get("OPTIONS") or {})
    if params["ENGINE"] == "django.db.backends.postgresql":
        timeout_ms = int(READY_TIMEOUT * 1000)
        options["connect_timeout"] = 2  # libpq's shortest; the thread's deadline is shorter
        timeout = f"-c statement_timeout={timeout_ms}"
        options["options"] = " ".join(filter(None, [options.get("options"), timeout]))
    params["OPTIONS"] = options
    probe = load_backend(params["ENGINE"]).DatabaseWrapper(params, f"{DEFAULT_DB_ALIAS}-readyz")
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        probe.close()


def _check_cache() -> None:
    """PING on a new connection to `REDIS_URL`, without redis-py's retries."""
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=READY_TIMEOUT,
        socket_timeout=READY_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()


def _run(checks: dict[str, Callable[[], None]], *, timeout: float) -> dict[str, str]:
    """Each check in a thread of its own, all started together; a check still running at
    the deadline has timed out."""
    results: dict[str, str] = {}

    def run(name: str, check: Callable[[], None]) -> None:
        try:
            check()
        except Exception as error:  # any failure is an answer: the dependency is not usable
            logger.warning("readyz: %s check failed: %r", name, error)
            results[name] = f"unreachable: {_reason(error)}"
        else:
            results[name] = OK

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"readyz-{name}", daemon=True)
        for name, check in checks.items()
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: results.get(name, "unreachable: timed out") for name in checks}


def _reason(error: BaseException) -> str:
    """A short reason for the answer; the full error (host names included) goes to the log."""
    text = str(error).lower()
    if isinstance(error, TimeoutError) or "timeout" in text or "timed out" in text:
        return "timed out"
    if isinstance(error, ConnectionRefusedError) or "refused" in text:
        return "connection refused"
    return type(error).__name__
