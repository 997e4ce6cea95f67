"""Celery tasks of oversight: beat marks service-level breaches; each breach's email is sent
from the outbox. Each task calls one service and is idempotent."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from core.audit import system_user
from service_requests.tasks import EMAIL_TASK_OPTIONS

from . import selectors, services

OUTBOX_GRACE = timedelta(seconds=30)
OUTBOX_BATCH = 500


@shared_task(ignore_result=True)
def mark_breaches() -> int:
    """Beat: mark the open requests' clocks past their target (once each), then re-enqueue
    breach emails left pending (the broker was down when they were written)."""
    marked = services.breaches_mark(actor=system_user(), now=timezone.now())
    cutoff = timezone.now() - OUTBOX_GRACE
    for breach_id in selectors.breaches_awaiting_email(before=cutoff, limit=OUTBOX_BATCH):
        send_breach_email.delay(breach_id)
    return marked


@shared_task(**EMAIL_TASK_OPTIONS)
def send_breach_email(self, breach_id: int) -> str:  # type: ignore[no-untyped-def]
    """Email one breach to its request's assignee and supervisors. Idempotent."""
    return services.breach_email_send(actor=None, breach_id=breach_id)
