"""A fixed-window rate limit on Django's cache (Redis in production: shared by every web
process; local memory otherwise: per process)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from django.core.cache import cache
from django.http import HttpRequest

from core.counters import count_hits

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


def _name(scope: str, key: str, window: int) -> str:
    """The counter's cache key for the current window. The key is hashed: no address or
    tracking number is written to the cache."""
    bucket = int(time.time() // window)
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{bucket}:{digest}"


def hit_many(counters: Sequence[tuple[str, str, int, int]]) -> list[bool]:
    """Count one attempt on each (`scope`, `key`, `limit`, `window`) counter, all in one cache
    round trip where the cache can; for each, True while its window's count is within its
    limit."""
    counts = count_hits(cache, [(_name(s, k, window), window + 5) for s, k, _, window in counters])
    return [count <= limit for count, (_, _, limit, _) in zip(counts, counters, strict=True)]


def hit(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under (`scope`, `key`); True while the window's count is within
    `limit`."""
    return hit_many([(scope, key, limit, window)])[0]


def retry_after(window: int) -> int:
    """Seconds until the current window ends."""
    return int(window - time.time() % window) + 1
