"""Group membership at a past moment, rebuilt from the recorded changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..models import GroupMembershipChange, MembershipAction


@dataclass(frozen=True)
class Membership:
    """A user's membership of a group at a moment; `since_recording` is set when the only
    evidence is the snapshot taken when recording began, after the moment asked about."""

    group_id: int
    user_id: int
    since_recording: datetime | None = None


def members_as_of(group_ids: Iterable[int], moment: datetime) -> list[Membership]:
    """The members of each of `group_ids` at `moment`, rebuilt from the recorded changes.

    A pair whose last change at or before `moment` is an addition (or the starting snapshot) was
    a member. A pair with no change by then but whose first record is the starting snapshot
    was a member when recording began, and nothing is known of earlier: it is listed with
    `since_recording`, so the report shows the gap instead of hiding it. Two queries.
    """
    ids = list(group_ids)
    if not ids:
        return []
    changes = GroupMembershipChange.objects.filter(group_id__in=ids).order_by("at", "pk")
    state: dict[tuple[int, int], str] = {}
    for group_id, user_id, action in changes.filter(at__lte=moment).values_list(
        "group_id", "user_id", "action"
    ):
        state[(group_id, user_id)] = action
    found = [
        Membership(group_id, user_id)
        for (group_id, user_id), action in state.items()
        if action != MembershipAction.REMOVED
    ]
    first_later: dict[tuple[int, int], tuple[str, datetime]] = {}
    for group_id, user_id, action, at in changes.filter(at__gt=moment).values_list(
        "group_id", "user_id", "action", "at"
    ):
        first_later.setdefault((group_id, user_id), (action, at))
    for pair, (action, at) in first_later.items():
        if pair not in state and action == MembershipAction.PRESENT:
            found.append(Membership(pair[0], pair[1], since_recording=at))
    return sorted(found, key=lambda m: (m.group_id, m.user_id))
