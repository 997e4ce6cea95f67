"""gunicorn settings of the portal's web process (read from the working directory; the Procfile
names it with `-c`). The command line still sets the bind address, workers and timeouts.

The application is loaded once in the master (`preload_app`) and warmed there before any worker
is forked: imports, the URL resolver, the compiled templates, the translation catalogues and one
drawing of each daily admin list are shared by every worker, so a fresh worker's first request
costs about what any other request costs (`hms_portal/warmup.py`; measured by
`bench/bench_cold_start.py`). The master holds no database or cache connection when it forks;
each worker opens its own database connection before it takes traffic. A code change needs a
restart of the master (not only a HUP of the workers), since the workers share its modules.
"""

from __future__ import annotations

from typing import Any

preload_app = True


def when_ready(server: Any) -> None:
    """In the master, after the application loaded and before the first fork: warm, then
    close what the warm-up opened, so no worker inherits a database or cache connection."""
    from django.core.cache import caches
    from django.db import connections

    from hms_portal.warmup import warm_process

    try:
        warm_process()
    finally:
        connections.close_all()
        caches.close_all()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker, before it accepts a connection."""
    from hms_portal.warmup import warm_worker

    warm_worker()
