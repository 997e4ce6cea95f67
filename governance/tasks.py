"""Celery tasks of governance: delegation permissions, deadlines, and emails.

Beat runs `sync_delegations` and `escalate_overdue` (see docs/governance.md for the schedule).
Each is idempotent: a run that repeats, or two that overlap, change nothing more.
"""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import timezone

from core.audit import system_user

from . import services


@shared_task(ignore_result=True)
def sync_delegations() -> dict[str, int]:
    """Grant the permissions of delegations whose window opened; remove those that ended or
    were revoked (with history, as the system user)."""
    return services.delegations_sync(actor=system_user(), now=timezone.now())


@shared_task(ignore_result=True)
def escalate_overdue() -> dict[str, int]:
    """Warn the deciders of steps nearing their deadline; escalate those past it (once)."""
    return services.steps_warn_and_escalate(actor=system_user(), now=timezone.now())


@shared_task(
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
)
def notify_users(user_ids: list[int], subject: str, body: str) -> int:
    """Email each of the users (one message each, so no address is shown to another)."""
    sent = 0
    for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True).exclude(email=""):
        sent += send_mail(f"[HMS] {subject}", body, None, [user.email])
    return sent
