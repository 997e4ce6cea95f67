"""Group membership with history: every change is written to `GroupMembershipChange` (the
members of a group at any past moment are rebuilt from those rows by
`governance.selectors.membership.members_as_of`).

Changes made through the relation's managers (`user.groups.add/remove/set/clear`,
`group.user_set.…`, the admin's user form) send `m2m_changed`, which `record_change` turns
into rows inside the change's own transaction. Rows written straight into the through table
(`bulk_create` on `User.groups.through`) send no signal and are not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed
from simple_history.models import HistoricalRecords

from core.audit import system_user

from .models import MembershipAction
from .services.membership import membership_changes_record

# The user a command or an import names as the maker of the membership changes it causes.
_explicit_actor: ContextVar[Any] = ContextVar("governance_membership_actor", default=None)


@contextmanager
def membership_actor(user: Any) -> Iterator[None]:
    """Record the membership changes made inside the block as made by `user`.

    For work outside a web request (management commands, imports, Celery tasks) that acts for
    a known person: `with membership_actor(actor): user.groups.add(group)`. Blocks nest; the
    previous actor is restored on leaving, also on error.
    """
    token = _explicit_actor.set(user)
    try:
        yield
    finally:
        _explicit_actor.reset(token)


def _actor() -> Any:
    """Who made the change: the user named by `membership_actor`, else the signed-in user of
    the current web request (set by simple-history's middleware), else the system user."""
    explicit = _explicit_actor.get()
    if explicit is not None:
        return explicit
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return system_user()


def _pairs(instance: Any, reverse: bool, pk_set: Iterable[int]) -> list[tuple[int, int]]:
    """(group id, user id) pairs: `instance` is a user (forward) or a group (reverse)."""
    if reverse:
        return [(instance.pk, user_id) for user_id in pk_set]
    return [(group_id, instance.pk) for group_id in pk_set]


def _current_pairs(
    instance: Any, reverse: bool, pk_set: Iterable[int] | None
) -> list[tuple[int, int]]:
    """The pairs among `pk_set` (all, when None) that are memberships right now."""
    through = get_user_model().groups.through
    if reverse:
        rows = through.objects.filter(group_id=instance.pk)
        if pk_set is not None:
            rows = rows.filter(user_id__in=pk_set)
    else:
        rows = through.objects.filter(user_id=instance.pk)
        if pk_set is not None:
            rows = rows.filter(group_id__in=pk_set)
    return list(rows.values_list("group_id", "user_id"))


def _write(pairs: Iterable[tuple[int, int]], action: str) -> None:
    pairs = list(pairs)
    if pairs:
        membership_changes_record(actor=_actor(), pairs=pairs, action=action)


def record_change(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    model: Any,
    pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    """`m2m_changed` receiver for `User.groups`. Django sends it inside the change's
    transaction, so a change that fails leaves no row. Additions are written after the fact
    (`pk_set` then holds only the new memberships); removals and clears before, while the
    memberships that really end can still be read."""
    if action == "post_add" and pk_set:
        _write(_pairs(instance, reverse, pk_set), MembershipAction.ADDED)
    elif action == "pre_remove" and pk_set:
        _write(_current_pairs(instance, reverse, pk_set), MembershipAction.REMOVED)
    elif action == "pre_clear":
        _write(_current_pairs(instance, reverse, None), MembershipAction.REMOVED)


def connect() -> None:
    """Listen to changes of `User.groups` (called from `GovernanceConfig.ready()`)."""
    m2m_changed.connect(
        record_change,
        sender=get_user_model().groups.through,
        dispatch_uid="governance.membership.record_change",
    )
