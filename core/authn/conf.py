"""Sign-in tunables (`HMS_STAFF_SESSION_<NAME>` and `HMS_AUTH_<NAME>` in settings override the
defaults here)."""

from __future__ import annotations

from django.conf import settings


def staff_idle_seconds() -> int:
    """A staff session with no request for this long ends (30 minutes)."""
    return int(getattr(settings, "HMS_STAFF_SESSION_IDLE_SECONDS", 30 * 60))


def staff_max_seconds() -> int:
    """A staff session ends this long after its sign-in, however busy (12 hours)."""
    return int(getattr(settings, "HMS_STAFF_SESSION_MAX_SECONDS", 12 * 3600))


def lockout_notice_seconds() -> int:
    """An owner is told of a lockout at most once in this window for one address."""
    return int(getattr(settings, "HMS_AUTH_LOCKOUT_NOTICE_SECONDS", 3600))
