"""Celery tasks of governance: delegation permissions and deadlines, and the emails
(`governance.emails.notify_users`, imported here so that the worker's autodiscovery of this
module registers it).

Beat runs `sync_delegations` and `escalate_overdue` (see docs/governance.md for the schedule).
Each is idempotent: a run that repeats, or two that overlap, change nothing more.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core.audit import system_user

from . import services
from .emails import notify_users

__all__ = ["escalate_overdue", "notify_users", "sync_delegations"]


@shared_task(ignore_result=True)
def sync_delegations() -> dict[str, int]:
    """Grant the permissions of delegations whose window opened; remove those that ended or
    were revoked (with history, as the system user)."""
    return services.delegations_sync(actor=system_user(), now=timezone.now())


@shared_task(ignore_result=True)
def escalate_overdue() -> dict[str, int]:
    """Warn the deciders of steps nearing their deadline; escalate those past it (once)."""
    return services.steps_warn_and_escalate(actor=system_user(), now=timezone.now())
