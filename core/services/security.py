"""The security log and the known devices: written here only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from core.models import KnownDevice, SecurityEvent, SecurityEventKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def security_event_record(
    *,
    actor: User | None,
    kind: SecurityEventKind,
    user: User | None = None,
    login: str = "",
    ip_address: str = "",
    user_agent: str = "",
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one authentication event. `actor` is who caused it (None for an anonymous
    client), `user` whose account it concerns (defaults to the actor). Rows are never changed
    afterwards; any caller may record."""
    subject = user if user is not None else actor
    event = SecurityEvent(
        kind=kind,
        user=subject if subject is not None and subject.pk is not None else None,
        login=login[:254],
        ip_address=ip_address or None,
        user_agent=user_agent[:512],
        detail=detail or {},
    )
    event.full_clean()
    event.save()
    return event


@transaction.atomic
def known_device_register(
    *, actor: User, agent_family: str, ip_address: str
) -> tuple[KnownDevice, bool, bool]:
    """Remember that `actor` signed in from this browser family and address. Returns the
    device, whether the pair is new, and whether it is the person's first device (nothing to
    compare with, so nothing to tell). Idempotent."""
    first = not KnownDevice.objects.filter(user=actor).exists()
    device, created = KnownDevice.objects.get_or_create(
        user=actor, agent_family=agent_family[:64], ip_address=ip_address[:45]
    )
    return device, created, first
