"""Delegation of authority: give, revoke, and keep the guardian permission in step with it.

While a delegation is active its delegate holds `decide_program_delegated` on the program, as
one `ProgramUserObjectPermission` row written and deleted one by one (so its history shows
every grant and removal, with who did it). Revocation removes it at once; the beat task
`governance.tasks.sync_delegations` grants it when a future window opens and removes it when
a window ends. The decision check reads the delegation again, so authority never outlives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import record_history

from .. import conf
from ..models import (
    DECIDE_PERMISSION,
    DELEGATED_PERMISSION,
    Delegation,
    Duty,
    Program,
    ProgramUserObjectPermission,
    display_name,
)
from ..selectors.duties import duty_conflict
from .errors import (
    ERR_DELEGATE_INVALID,
    ERR_DELEGATE_NOT_ALLOWED,
    ERR_DELEGATION_CEILING_INVALID,
    ERR_DELEGATION_ENDED,
    ERR_DELEGATION_OVERLAP,
    ERR_DELEGATION_REASON,
    ERR_DELEGATION_TOO_LONG,
    ERR_DELEGATION_WINDOW,
    ERR_DELEGATOR_NO_AUTHORITY,
    ERR_DUTY_DELEGATE,
    ERR_DUTY_DELEGATOR,
    GovernanceError,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _delegated_permission() -> Permission:
    app_label, codename = DELEGATED_PERMISSION.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def delegation_validate(
    *,
    actor: User,
    delegator: User,
    delegate: User,
    program: Program,
    subject_kind: str,
    scope_key: str,
    step_order: int | None,
    ceiling_minor: int | None,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
) -> None:
    """Every rule of a new delegation (the form shows these as errors; the service repeats
    them under the transaction)."""
    if not actor.is_active or not (actor.pk == delegator.pk or actor.is_superuser):
        raise GovernanceError(ERR_DELEGATE_NOT_ALLOWED, code="forbidden")
    # Own authority only: a delegate holds `decide_program_delegated`, never `decide_program`,
    # so what was delegated cannot be delegated again.
    if not delegator.is_active or not delegator.has_perm(DECIDE_PERMISSION, program):
        raise GovernanceError(
            ERR_DELEGATOR_NO_AUTHORITY.format(delegator=display_name(delegator), program=program),
            code="delegator_no_authority",
        )
    if delegate.pk == delegator.pk or not delegate.is_active or not delegate.is_staff:
        raise GovernanceError(ERR_DELEGATE_INVALID, code="delegate")
    # Separation of duties as data: the delegator's own authority is void if their role may
    # not decide, and the delegate must be allowed to hold it.
    rule = duty_conflict(user=delegator, duty=Duty.DECIDE)
    if rule is not None:
        message = ERR_DUTY_DELEGATOR.format(
            delegator=display_name(delegator), holder=rule.get_holder_display()
        )
        raise GovernanceError(message, code="delegator_no_authority")
    rule = duty_conflict(user=delegate, duty=Duty.DECIDE)
    if rule is not None:
        message = ERR_DUTY_DELEGATE.format(
            delegate=display_name(delegate), holder=rule.get_holder_display()
        )
        raise GovernanceError(message, code="delegate")
    if ceiling_minor is None or ceiling_minor < 0:
        raise GovernanceError(ERR_DELEGATION_CEILING_INVALID, code="ceiling")
    if ends_at <= starts_at or ends_at <= now:
        raise GovernanceError(ERR_DELEGATION_WINDOW, code="window")
    if ends_at - starts_at > conf.max_delegation():
        raise GovernanceError(
            ERR_DELEGATION_TOO_LONG.format(days=conf.max_delegation().days), code="too_long"
        )
    if not (reason or "").strip():
        raise GovernanceError(ERR_DELEGATION_REASON, code="reason")
    step_match = Q(step_order__isnull=True) if step_order is None else Q(step_order=step_order)
    overlapping = Delegation.objects.filter(
        step_match,
        delegator=delegator,
        program=program,
        subject_kind=subject_kind,
        scope_key=scope_key,
        revoked_at__isnull=True,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )
    if overlapping.exists():
        raise GovernanceError(
            ERR_DELEGATION_OVERLAP.format(delegator=display_name(delegator)), code="overlap"
        )


def _grant(delegation: Delegation, *, actor: User) -> None:
    """Give the delegate the program's delegated permission (one row, in history)."""
    permission = _delegated_permission()
    row = ProgramUserObjectPermission.objects.filter(
        user_id=delegation.delegate_id,
        permission=permission,
        content_object_id=delegation.program_id,
    ).first()
    if row is None:
        row = ProgramUserObjectPermission(
            user_id=delegation.delegate_id,
            permission=permission,
            content_object_id=delegation.program_id,
        )
        record_history(row, actor=actor, reason=f"delegation #{delegation.pk} active")
        row.save()
    delegation.permission_granted = True
    record_history(delegation, actor=actor, reason="permission granted")
    delegation.save(update_fields=["permission_granted"])


def _remove(delegation: Delegation, *, actor: User, why: str) -> None:
    """Take the permission back unless another of the delegate's delegations on the program
    still holds it."""
    delegation.permission_granted = False
    record_history(delegation, actor=actor, reason=f"permission removed: {why}")
    delegation.save(update_fields=["permission_granted"])
    still_held = (
        Delegation.objects.filter(
            delegate_id=delegation.delegate_id,
            program_id=delegation.program_id,
            permission_granted=True,
        )
        .exclude(pk=delegation.pk)
        .exists()
    )
    if still_held:
        return
    for row in ProgramUserObjectPermission.objects.filter(
        user_id=delegation.delegate_id,
        permission=_delegated_permission(),
        content_object_id=delegation.program_id,
    ):
        record_history(row, actor=actor, reason=f"delegation #{delegation.pk} {why}")
        row.delete()


@transaction.atomic
def delegation_create(
    *,
    actor: User,
    delegate: User,
    program: Program,
    ceiling_minor: int,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    delegator: User | None = None,
    currency: str = "USD",
    subject_kind: str = "",
    scope_key: str = "",
    step_order: int | None = None,
) -> Delegation:
    """`delegator` (the actor, or anyone when an administrator acts) lends their authority on
    `program` to `delegate` within the scope, ceiling and window. Granted at once when the
    window has started, else by the beat task."""
    delegator = delegator or actor
    now = timezone.now()
    reason = (reason or "").strip()
    delegation_validate(
        actor=actor,
        delegator=delegator,
        delegate=delegate,
        program=program,
        subject_kind=subject_kind,
        scope_key=scope_key,
        step_order=step_order,
        ceiling_minor=ceiling_minor,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        now=now,
    )
    delegation = Delegation(
        delegator=delegator,
        delegate=delegate,
        program=program,
        subject_kind=subject_kind,
        scope_key=scope_key,
        step_order=step_order,
        ceiling_minor=ceiling_minor,
        currency=currency,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=actor,
    )
    delegation.full_clean()
    record_history(delegation, actor=actor, reason="delegated")
    try:
        with transaction.atomic():
            delegation.save()
    except IntegrityError:
        # The PostgreSQL exclusion constraint: a concurrent delegation for the same scope won.
        raise GovernanceError(
            ERR_DELEGATION_OVERLAP.format(delegator=display_name(delegator)), code="overlap"
        ) from None
    if delegation.starts_at <= now:
        _grant(delegation, actor=actor)
    return delegation


@transaction.atomic
def delegation_revoke(*, actor: User, delegation_id: int, reason: str = "") -> Delegation:
    """End a delegation now (its delegator or an administrator); the permission goes at once."""
    # Lock the delegation: a revocation racing the beat task removes the permission once.
    delegation = Delegation.objects.select_for_update().get(pk=delegation_id)
    if not actor.is_active or not (actor.pk == delegation.delegator_id or actor.is_superuser):
        raise GovernanceError(ERR_DELEGATE_NOT_ALLOWED, code="forbidden")
    now = timezone.now()
    if delegation.revoked_at is not None or delegation.ends_at <= now:
        raise GovernanceError(ERR_DELEGATION_ENDED, code="ended")
    delegation.revoked_at = now
    delegation.revoked_by = actor
    delegation.revoke_reason = (reason or "").strip()
    record_history(delegation, actor=actor, reason="revoked")
    delegation.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    if delegation.permission_granted:
        _remove(delegation, actor=actor, why="revoked")
    return delegation


def delegations_sync(*, actor: User, now: datetime) -> dict[str, int]:
    """Bring the guardian permissions in line with the delegations' windows (beat task).
    Each delegation is handled in its own transaction under its row lock; idempotent."""
    removed = granted = 0
    ended = Delegation.objects.filter(
        Q(revoked_at__isnull=False) | Q(ends_at__lte=now), permission_granted=True
    ).values_list("pk", flat=True)
    for pk in list(ended):
        with transaction.atomic():
            delegation = Delegation.objects.select_for_update().get(pk=pk)
            if delegation.permission_granted and not delegation.is_active_at(now):
                _remove(
                    delegation,
                    actor=actor,
                    why="expired" if not delegation.revoked_at else "revoked",
                )
                removed += 1
    starting = Delegation.objects.filter(
        permission_granted=False, revoked_at__isnull=True, starts_at__lte=now, ends_at__gt=now
    ).values_list("pk", flat=True)
    for pk in list(starting):
        with transaction.atomic():
            delegation = Delegation.objects.select_for_update().get(pk=pk)
            if not delegation.permission_granted and delegation.is_active_at(now):
                _grant(delegation, actor=actor)
                granted += 1
    return {"granted": granted, "removed": removed}
