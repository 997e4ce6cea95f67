"""The recorded history of group membership."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import AppendOnlyMixin


class MembershipAction(models.TextChoices):
    ADDED = "added", _("Added")
    REMOVED = "removed", _("Removed")
    # Written once, for every membership that existed when recording began.
    PRESENT = "present", _("Member when recording began")


class GroupMembershipChange(AppendOnlyMixin):
    """One change of a user's membership of a group: append-only.

    Django keeps no history of group membership, and a group may hold authority (a group grant
    on a program, a policy step decided by a group), so every change is written here from the
    `m2m_changed` signal (`governance.membership`). The membership of any past moment is the
    last change at or before it for each (group, user) pair. The user and group keys have no
    database constraint and never block a deletion: the record outlives them.
    """

    group = models.ForeignKey(
        Group, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(_("what"), max_length=10, choices=MembershipAction.choices)
    at = models.DateTimeField(_("when"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["group", "at"], name="gov_membership_group_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: user {self.user_id} in group {self.group_id}"
