"""A fixed-window rate limit on Django's cache (Redis in production: shared by every web
process; local memory otherwise: per process)."""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache
from django.http import HttpRequest

from . import conf


def client_address(request: HttpRequest) -> str:
    """The client's address: a trusted proxy's header when configured, else REMOTE_ADDR."""
    header = conf.get("CLIENT_IP_HEADER")
    if header:
        forwarded = request.META.get(header, "")
        if forwarded:
            # X-Forwarded-For style lists: the proxy appends, so the first hop is the client's.
            return str(forwarded).split(",")[0].strip()
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def hit(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under (`scope`, `key`); True while the window's count is within
    `limit`. The key is hashed: no address or tracking number is written to the cache."""
    bucket = int(time.time() // window)
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    name = f"ratelimit:{scope}:{bucket}:{digest}"
    # add() is a no-op when the key exists; incr() is atomic on Redis.
    cache.add(name, 0, timeout=window + 5)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add() and incr()
        cache.add(name, 1, timeout=window + 5)
        count = 1
    return count <= limit


def retry_after(window: int) -> int:
    """Seconds until the current window ends."""
    return int(window - time.time() % window) + 1
