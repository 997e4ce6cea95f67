"""Fixtures of the public pages' tests."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Civilians' documents go to a temporary folder, never into the checkout."""
    root = tmp_path / "private-media"
    settings.HMS_REQUESTS_ATTACHMENTS_ROOT = str(root)
    return root


@pytest.fixture
def fresh_rate_limits(settings):  # type: ignore[no-untyped-def]
    """Rate limits count in a key space of this test's own. Clearing the cache instead would
    flush the whole Redis database, which the Celery broker shares when REDIS_URL is set."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches
