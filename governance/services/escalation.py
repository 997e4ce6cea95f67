"""Deadlines: warn the deciders before a step is due, escalate it once it is overdue.

Run by the beat task `governance.tasks.escalate_overdue`. Each step is handled in its own
transaction under its case's row lock (the order every writer of a case takes), and re-checked
there, so a repeated or overlapping run warns and escalates each step once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import formats

from core.audit import record_history

from .. import emails
from ..models import ApprovalCase, CaseEventKind, CaseStatus, CaseStep, CaseStepStatus
from ..selectors.authority import step_notify_ids
from .cases import _event

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _locked_open_step(case_id: int, case_step_id: int) -> tuple[ApprovalCase, CaseStep] | None:
    # Lock the case first, as case_decide does: the step row is only written under it.
    case = ApprovalCase.objects.select_for_update(of=("self",)).get(pk=case_id)
    if case.status != CaseStatus.OPEN or case.current_step_id != case_step_id:
        return None
    case_step = CaseStep.objects.select_related("step__escalate_to").get(pk=case_step_id)
    if case_step.status != CaseStepStatus.OPEN:
        return None
    return case, case_step


def _warn(*, actor: User, case_id: int, case_step_id: int, now: datetime) -> bool:
    with transaction.atomic():
        locked = _locked_open_step(case_id, case_step_id)
        if locked is None:
            return False
        case, case_step = locked
        if (
            case_step.warned_at is not None
            or case_step.escalated_at is not None
            or case_step.due_at is None
            or case_step.due_at <= now
        ):
            return False
        case_step.warned_at = now
        record_history(case_step, actor=actor, reason="deadline warning")
        case_step.save(update_fields=["warned_at"])
        due = str(formats.date_format(case_step.due_at, "DATETIME_FORMAT"))
        _event(
            case,
            CaseEventKind.WARNED,
            actor=actor,
            case_step=case_step,
            message=f"{case_step.step.name} is due {due}.",
        )
        emails.step_warning(case, step_notify_ids(case, case_step.step), case_step.step.name, due)
        return True


def _escalate(*, actor: User, case_id: int, case_step_id: int, now: datetime) -> bool:
    with transaction.atomic():
        locked = _locked_open_step(case_id, case_step_id)
        if locked is None:
            return False
        case, case_step = locked
        if case_step.escalated_at is not None or case_step.due_at is None or case_step.due_at > now:
            return False
        case_step.escalated_at = now
        record_history(case_step, actor=actor, reason="escalated")
        case_step.save(update_fields=["escalated_at"])
        target_group = case_step.step.escalate_to
        target = f"group “{target_group.name}”" if target_group else "the administrators"
        _event(
            case,
            CaseEventKind.ESCALATED,
            actor=actor,
            case_step=case_step,
            message=f"{case_step.step.name} is overdue: escalated to {target}.",
        )
        if target_group is not None:
            targets = list(
                target_group.user_set.filter(is_active=True).values_list("pk", flat=True)
            )
        else:
            targets = emails.administrator_ids()
        emails.step_escalated(
            case,
            [*targets, *step_notify_ids(case, case_step.step)],
            case_step.step.name,
            target,
        )
        return True


def steps_warn_and_escalate(*, actor: User, now: datetime) -> dict[str, int]:
    """Warn every open step whose warning time has come; escalate every overdue one. Returns
    how many of each this run did."""
    warned = escalated = 0
    due_soon = CaseStep.objects.filter(
        status=CaseStepStatus.OPEN,
        warned_at__isnull=True,
        escalated_at__isnull=True,
        warn_at__lte=now,
        due_at__gt=now,
    ).values_list("case_id", "pk")
    for case_id, pk in list(due_soon):
        warned += _warn(actor=actor, case_id=case_id, case_step_id=pk, now=now)
    overdue = CaseStep.objects.filter(
        status=CaseStepStatus.OPEN, escalated_at__isnull=True, due_at__lte=now
    ).values_list("case_id", "pk")
    for case_id, pk in list(overdue):
        escalated += _escalate(actor=actor, case_id=case_id, case_step_id=pk, now=now)
    return {"warned": warned, "escalated": escalated}
