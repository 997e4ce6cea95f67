"""Group membership history: the rows that record each change of a user's groups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ..models import GroupMembershipChange

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def membership_changes_record(
    *,
    actor: User | None,
    pairs: Iterable[tuple[int, int]],
    action: str,
    at: datetime | None = None,
) -> list[GroupMembershipChange]:
    """Record that each (group id, user id) pair was `action` (added, removed) by `actor`, one
    append-only row each, in one insert. Called from the `m2m_changed` receiver inside the
    membership change's own transaction, so a change that fails leaves no row."""
    unique = sorted(set(pairs))
    if not unique:
        return []
    when = at or timezone.now()
    return GroupMembershipChange.objects.bulk_create(
        GroupMembershipChange(group_id=g, user_id=u, action=action, at=when, actor=actor)
        for g, u in unique
    )
