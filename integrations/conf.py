"""Tunables of the integrations app (`HMS_WEBHOOK_*`), with their defaults.

Each is read from the settings if set there, else from the environment variable of the same
name; the defaults suit production.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _setting(name: str, default: object) -> object:
    """A setting, else the environment variable of the same name, else the default."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return value


def _seconds(name: str, default: int) -> timedelta:
    return timedelta(seconds=int(str(_setting(name, default))))


def retry_window() -> timedelta:
    """How long a delivery is retried before it is given up (a day)."""
    return _seconds("HMS_WEBHOOK_RETRY_SECONDS", 86_400)


def first_backoff() -> timedelta:
    """The wait after the first failed attempt; each later wait doubles."""
    return _seconds("HMS_WEBHOOK_BACKOFF_SECONDS", 30)


def max_backoff() -> timedelta:
    """The longest wait between two attempts."""
    return _seconds("HMS_WEBHOOK_BACKOFF_MAX_SECONDS", 2 * 3600)


def lease() -> timedelta:
    """How long a worker holds a delivery while it sends it; a worker killed mid-send leaves
    the delivery to be picked up again after this."""
    return _seconds("HMS_WEBHOOK_LEASE_SECONDS", 60)


def timeout_seconds() -> float:
    """The receiver's time to answer one delivery."""
    return float(str(_setting("HMS_WEBHOOK_TIMEOUT_SECONDS", 10)))


def outbox_grace() -> timedelta:
    """A pending delivery older than this, with no worker on it, is re-enqueued by beat."""
    return _seconds("HMS_WEBHOOK_OUTBOX_GRACE_SECONDS", 30)


def batch_size() -> int:
    """How many due deliveries of one subscription a worker sends in one go (the one its task
    names and the others behind it): one lease, one connection, one record transaction."""
    return max(1, int(str(_setting("HMS_WEBHOOK_BATCH_SIZE", 50))))


def _flag(name: str, default: bool) -> bool:
    value = _setting(name, default)
    if not isinstance(value, str):
        return bool(value)
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("", "0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def allow_http() -> bool:
    """Plain-http target URLs: only in development and tests (local receivers)."""
    return _flag(
        "HMS_WEBHOOK_ALLOW_HTTP", bool(settings.DEBUG or getattr(settings, "TESTING", False))
    )


def allow_private_targets() -> bool:
    """Targets on loopback, private, link-local and other non-public addresses (see
    `integrations.targets`): off unless set, for a developer's or a test's local receiver."""
    return _flag("HMS_WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
