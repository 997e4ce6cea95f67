"""Celery tasks: the civilian's emails, sent from the outbox exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .models import NotifyState, RequestEvent

logger = logging.getLogger(__name__)

OUTBOX_GRACE = timedelta(seconds=30)


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def send_event_email(self, event_id: int) -> str:  # type: ignore[no-untyped-def]
    """Email the civilian about one timeline event. Idempotent: an event already sent, or
    not meant to be emailed, is skipped."""
    with transaction.atomic():
        # Lock the outbox row: two deliveries of this task cannot both send.
        event = (
            RequestEvent.objects.select_for_update(of=("self",))
            .select_related("request__service_type")
            .filter(pk=event_id)
            .first()
        )
        if event is None or event.notify != NotifyState.PENDING:
            return "skipped"
        request = event.request
        context = {
            "event": event,
            "request": request,
            "url": f"{settings.SITE_URL}/requests/{request.tracking_number}/",
            "bureau": settings.HMS_BUREAU_NAME,
        }
        subject = f"{request.tracking_number}: {request.get_status_display()}"
        body = render_to_string("service_requests/email/event.txt", context)
        send_mail(subject, body, None, [request.contact_email])
        RequestEvent.objects.filter(pk=event.pk).update(
            notify=NotifyState.SENT, notified_at=timezone.now()
        )
    return "sent"


@shared_task
def flush_notification_outbox() -> int:
    """Re-enqueue emails still pending after the grace period (the broker was unreachable
    when they were written). Run by beat."""
    cutoff = timezone.now() - OUTBOX_GRACE
    ids = list(
        RequestEvent.objects.filter(notify=NotifyState.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
    for event_id in ids:
        send_event_email.delay(event_id)
    return len(ids)
