"""Fixed-window counters on Django's cache: count one hit on each of several counters at once.

A cache backend that can count them in one round trip offers `count_hits(entries)` (the
portal's Redis backend, `hms_portal.cache`, does it in one pipeline); any other backend counts
them one by one with `add` and `incr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (cache key, seconds the counter lives)
Entry = tuple[str, int]


def count_hits(cache: Any, entries: Sequence[Entry]) -> list[int]:
    """Add one to each counter, creating it with its lifetime when missing; the new counts,
    in the order of `entries`."""
    counting = getattr(cache, "count_hits", None)
    if counting is not None:
        return list(counting(entries))
    return count_hits_one_by_one(cache, entries)


def count_hits_one_by_one(cache: Any, entries: Sequence[Entry]) -> list[int]:
    """`count_hits` through the cache API every backend has."""
    counts = []
    for key, timeout in entries:
        # add() is a no-op when the key exists; incr() is atomic on Redis.
        cache.add(key, 0, timeout=timeout)
        try:
            counts.append(cache.incr(key))
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=timeout)
            counts.append(1)
    return counts
