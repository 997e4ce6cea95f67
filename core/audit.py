"""Who acted: the named system user for work no person started (Celery tasks, commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SYSTEM_USERNAME = "system"


def system_user() -> User:
    """Return the inactive `system` user that history names for automated changes."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"is_active": False, "first_name": "HMS", "last_name": "system"},
    )
    return user  # type: ignore[return-value]


def record_history(obj: object, *, actor: object, reason: str) -> None:
    """Name the acting user and the reason on the history row the next save writes."""
    obj._history_user = actor  # type: ignore[attr-defined]
    obj._change_reason = reason  # type: ignore[attr-defined]
