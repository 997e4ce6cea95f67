"""Programs: the configuration superusers keep in the admin, and who may review or decide a
program's cases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import Permission
from django.db import transaction

from core.audit import record_history

from ..models import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    Duty,
    Program,
    ProgramUserObjectPermission,
    display_name,
)
from ..selectors.duties import duty_conflict
from .errors import ERR_DUTY_GRANT, GovernanceError

# The program permissions that are authority to decide its cases.
_DECIDING = {DECIDE_PERMISSION.split(".")[1], DELEGATED_PERMISSION.split(".")[1]}

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def program_save(*, actor: User, program: Program, reason: str = "") -> Program:
    """Create or change a program (superusers, through the admin; the admin checks the
    permission), with its history row naming `actor`."""
    record_history(program, actor=actor, reason=reason)
    program.save()
    return program


@transaction.atomic
def program_delete(*, actor: User, program_id: int) -> None:
    """Delete a program that nothing refers to (cases, policies and delegations protect it)."""
    # Lock the program: a concurrent edit saves before or after the deletion, never during it.
    program = Program.objects.select_for_update().get(pk=program_id)
    record_history(program, actor=actor, reason="deleted")
    program.delete()


@transaction.atomic
def program_permission_grant(
    *, actor: User, program: Program, user: User, permission: str
) -> ProgramUserObjectPermission:
    """Give `user` the program permission `permission` (a codename such as `review_program`):
    one object-permission row, in history with `actor`. Granting it again changes nothing.
    Authority to decide is refused to a user whose role separation of duties keeps from
    deciding (`DutyConflict`: auditors, administrators)."""
    codename = permission.rpartition(".")[2]
    if codename in _DECIDING:
        rule = duty_conflict(user=user, duty=Duty.DECIDE)
        if rule is not None:
            message = ERR_DUTY_GRANT.format(
                user=display_name(user), holder=rule.get_holder_display()
            )
            raise GovernanceError(message, code="separation_of_duties")
    held = Permission.objects.get(content_type__app_label="governance", codename=codename)
    # Lock the program: two grants of the same permission write one row.
    Program.objects.select_for_update().filter(pk=program.pk).first()
    row = ProgramUserObjectPermission.objects.filter(
        user=user, permission=held, content_object=program
    ).first()
    if row is None:
        row = ProgramUserObjectPermission(user=user, permission=held, content_object=program)
        record_history(row, actor=actor, reason=f"{codename} granted")
        row.save()
    return row
