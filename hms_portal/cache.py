"""The Redis cache backend of the portal: Django's own, with one client object per server, that
never fails a request because Redis is away.

One client per server: Django's `RedisCacheClient.get_client` builds a new `redis.Redis` around
the server's connection pool for every cache call, and building one costs about as much CPU as
the call's own round trip (redis-py fills a table of some 200 response callbacks each time).
A `redis.Redis` holds no connection of its own (its pool lends one per command), so this
client keeps the one it built for each pool.

Failing open: a cache call that cannot reach Redis (connection refused, connect or read
timeout) is answered from this process's memory instead, and for `UNREACHABLE_SECONDS` after
that failure no call tries Redis at all, so a dead Redis costs a request at most one short
timeout (`socket_connect_timeout` 0.3 s, no redis-py retries) and then nothing. While Redis is
away:
- counters (`add`, `incr`: the rate limits, the API throttle, allauth's limits) count in this
  process's memory, so every web process enforces the limit on its own share of the traffic;
- cached copies (the filing services, the subscribed webhook event types) are kept in this
  process's memory; a key this process deletes is deleted again in Redis when it is back, and
  the memory is emptied then, so nothing stale outlives the outage here. A change made by
  another process reaches this one when the copy's timeout ends (300 s for both).
One warning is logged when Redis becomes unreachable and one line when it answers again, not
one per request. Errors other than an unreachable server (a bad command, a full Redis) still
raise: they are bugs or configuration, not an outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from core.counters import count_hits_one_by_one

logger = logging.getLogger(__name__)

T = TypeVar("T")

# After a failed call, calls skip Redis for this long before one of them tries again.
UNREACHABLE_SECONDS = 5.0
# Defaults for the connection pool, unless the cache's OPTIONS name their own.
POOL_DEFAULTS: dict[str, Any] = {
    "socket_connect_timeout": 0.3,
    "socket_timeout": 1.0,
    "retry": Retry(NoBackoff(), 0),
}
# Keys deleted while Redis was away, deleted again in Redis once it is back (at most this many).
MAX_MISSED_DELETES = 10_000
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# Keys kept in a process's memory while Redis is away.
LOCAL_MAX_ENTRIES = 20_000


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's client, keeping one `redis.Redis` per connection pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # django-stubs leave out the private parts used here
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django_client._get_connection_pool(write)
            client = self._clients[index] = django_client._client(connection_pool=pool)
        return client


class _Reachability:
    """Whether one Redis server is thought reachable, shared by the threads of a process
    (Django builds one cache backend per thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retry_at = 0.0
        self.away = False
        self.missed_deletes: set[tuple[Any, int | None]] = set()


_servers: dict[str, _Reachability] = {}
_servers_lock = threading.Lock()


def _reachability(server: str) -> _Reachability:
    with _servers_lock:
        return _servers.setdefault(server, _Reachability())


class RedisCache(DjangoRedisCache):
    """`django.core.cache.backends.redis.RedisCache` with `RedisCacheClient` above, failing
    open to this process's memory while Redis is unreachable (see the module's doc)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = {**params, "OPTIONS": {**POOL_DEFAULTS, **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._state = _reachability(str(server))
        # LocMemCache shares its storage between instances of the same name in a process; room
        # for the rate limits' counters of many clients.
        self._local = LocMemCache(
            f"hms-cache-fallback:{server}:{self.key_prefix}",
            {
                "TIMEOUT": self.default_timeout,
                "KEY_PREFIX": self.key_prefix,
                "VERSION": self.version,
                "OPTIONS": {"MAX_ENTRIES": LOCAL_MAX_ENTRIES},
            },
        )

    # --- the breaker --------------------------------------------------------------------

    def _call(self, operation: Callable[[], T], fallback: Callable[[], T]) -> T:
        state = self._state
        if state.away and time.monotonic() < state.retry_at:
            return fallback()
        try:
            result = operation()
        except UNREACHABLE as error:
            with state.lock:
                state.retry_at = time.monotonic() + UNREACHABLE_SECONDS
                first = not state.away
                state.away = True
            if first:
                logger.warning(
                    "Redis cache unreachable (%s): answering from this process's memory "
                    "(rate limits count per process) and retrying every %g s",
                    error,
                    UNREACHABLE_SECONDS,
                )
            return fallback()
        if state.away:
            self._back()
        return result

    def _back(self) -> None:
        """Redis answers again: delete what was deleted meanwhile, forget the local copies."""
        state = self._state
        with state.lock:
            if not state.away:
                return
            state.away = False
            missed, state.missed_deletes = state.missed_deletes, set()
        self._local.clear()
        by_version: dict[int | None, list[Any]] = {}
        for key, version in missed:
            by_version.setdefault(version, []).append(key)
        try:
            for version, keys in by_version.items():
                super().delete_many(keys, version)
        except UNREACHABLE:
            # Away again: keep the deletes for the next time it answers.
            with state.lock:
                state.missed_deletes |= missed
                state.away = True
                state.retry_at = time.monotonic() + UNREACHABLE_SECONDS
            return
        logger.warning(
            "Redis cache reachable again (%d deletes made while away replayed)", len(missed)
        )

    def _missed(self, keys: list[Any], version: int | None) -> None:
        state = self._state
        with state.lock:
            room = MAX_MISSED_DELETES - len(state.missed_deletes)
            state.missed_deletes.update((key, version) for key in keys[: max(room, 0)])

    # --- Django's cache API -------------------------------------------------------------

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        return self._call(
            lambda: super(RedisCache, self).add(key, value, timeout, version),
            lambda: self._local.add(key, value, timeout, version),
        )

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call(
            lambda: super(RedisCache, self).get(key, default, version),
            lambda: self._local.get(key, default, version),
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._call(
            lambda: super(RedisCache, self).set(key, value, timeout, version),
            lambda: self._local.set(key, value, timeout, version),
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(
            lambda: super(RedisCache, self).touch(key, timeout, version),
            lambda: self._local.touch(key, timeout, version),
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        def away() -> bool:
            self._missed([key], version)
            return self._local.delete(key, version)

        return self._call(lambda: super(RedisCache, self).delete(key, version), away)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        return self._call(
            lambda: super(RedisCache, self).get_many(keys, version),
            lambda: self._local.get_many(keys, version),
        )

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call(
            lambda: super(RedisCache, self).has_key(key, version),
            lambda: self._local.has_key(key, version),
        )

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._call(
            lambda: super(RedisCache, self).incr(key, delta, version),
            lambda: self._local.incr(key, delta, version),
        )

    def count_hits(self, entries: Any) -> list[int]:
        """`core.counters.count_hits` in one round trip: for each counter `SET key 0 NX EX`
        and `INCR` in one pipeline (Django's `add` and `incr` take three round trips)."""
        entries = list(entries)

        def counted() -> list[int]:
            client = self._cache.get_client(None, write=True)
            pipe = client.pipeline(transaction=False)
            for key, timeout in entries:
                name = self.make_and_validate_key(key)
                pipe.set(name, 0, nx=True, ex=max(int(timeout), 1))
                pipe.incr(name)
            return [int(count) for count in pipe.execute()[1::2]]

        return self._call(counted, lambda: count_hits_one_by_one(self._local, entries))

    def set_many(
        self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        def away() -> list[Any]:
            self._local.set_many(data, timeout, version)
            return []

        return self._call(lambda: super(RedisCache, self).set_many(data, timeout, version), away)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        keys = list(keys)

        def away() -> None:
            self._missed(keys, version)
            self._local.delete_many(keys, version)

        self._call(lambda: super(RedisCache, self).delete_many(keys, version), away)

    def clear(self) -> None:
        self._local.clear()
        self._call(lambda: super(RedisCache, self).clear(), lambda: None)
