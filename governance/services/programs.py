"""Programs: the configuration superusers keep in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from core.audit import record_history

from ..models import Program

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
