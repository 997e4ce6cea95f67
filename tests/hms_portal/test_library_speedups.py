"""The portal's speed-ups of its libraries keep their behaviour: django-simple-history's
manager built once per model, and the Redis cache's one client per server."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache, caches

from governance.models import Program
from hms_portal.cache import RedisCache


@pytest.mark.django_db
def test_history_manager_class_is_built_once_and_still_bound_to_its_object() -> None:
    program = Program.objects.create(code="speed", name="Speed")
    first, second = program.history, Program.history
    assert type(first) is type(second) is type(program.history)
    assert first.instance == program
    assert second.instance is None
    program.name = "Speed, renamed"
    program.save()
    assert [row.name for row in program.history.all()] == ["Speed, renamed", "Speed"]
    assert Program.history.filter(code="speed").count() == 2


@pytest.mark.usefixtures("require_redis")
def test_redis_cache_reuses_one_client_per_server() -> None:
    assert settings.CACHES["default"]["BACKEND"] == "hms_portal.cache.RedisCache"
    assert isinstance(caches["default"], RedisCache)
    cache.set("speed:one-client", {"value": 1}, 30)
    client = cache._cache.get_client(write=False)
    assert cache._cache.get_client(write=True) is client
    assert cache.get("speed:one-client") == {"value": 1}
    assert cache.get_many(["speed:one-client", "speed:none"]) == {"speed:one-client": {"value": 1}}
    cache.delete("speed:one-client")
    assert cache.get("speed:one-client") is None
