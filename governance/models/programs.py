"""Programs, the scope of authority, and the object permissions held on them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords


class Program(models.Model):
    """An organisational program: the scope in which staff review and supervisors decide.

    Authority is an object permission on the program (django-guardian): `review_program` for
    reviewers, `decide_program` for supervisors, `decide_program_delegated` for the delegates of
    an active delegation.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        permissions = [
            ("review_program", "Review requests of the program"),
            ("decide_program", "Decide approval cases of the program"),
            ("decide_program_delegated", "Decide approval cases of the program under delegation"),
        ]

    def __str__(self) -> str:
        return self.name


class ProgramUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key object permissions: indexed joins instead of generic ones.

    Recorded in history (grant = created, removal = deleted), so the authority anyone held on
    any past date can be rebuilt for an auditor.
    """

    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)

    history = HistoricalRecords()


class ProgramGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)

    history = HistoricalRecords()
