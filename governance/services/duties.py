"""Separation-of-duties rules: administrators add, change and remove them, on the record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from core.audit import record_history

from ..models import DutyConflict
from .errors import ERR_ADMIN_ONLY, GovernanceError

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _administrator_only(actor: User) -> None:
    if not (actor.is_active and actor.is_superuser):
        raise GovernanceError(ERR_ADMIN_ONLY, code="forbidden")


@transaction.atomic
def duty_conflict_save(*, actor: User, rule: DutyConflict, reason: str = "") -> DutyConflict:
    """Add or change a rule (administrators only), in its history with `actor`."""
    _administrator_only(actor)
    rule.full_clean()
    record_history(rule, actor=actor, reason=reason or "rule saved")
    rule.save()
    return rule


@transaction.atomic
def duty_conflict_delete(*, actor: User, rule_id: int) -> None:
    """Remove a rule (administrators only); its history keeps what it said and who removed
    it."""
    _administrator_only(actor)
    # Lock the rule: an edit saved at the same moment lands before or after, never between.
    rule = DutyConflict.objects.select_for_update().get(pk=rule_id)
    record_history(rule, actor=actor, reason="rule removed")
    rule.delete()
