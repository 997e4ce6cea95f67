"""Celery tasks: the civilian's emails, sent from the outbox exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from . import conf
from .models import NotifyState, RequestDraft, RequestEvent, VerifyState

logger = logging.getLogger(__name__)

OUTBOX_GRACE = timedelta(seconds=30)
# Emails: retried with backoff while the mail server is unreachable.
EMAIL_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 8,
}


@shared_task(**EMAIL_TASK_OPTIONS)
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
        # Written in the civilian's language (chosen on the site when they filed).
        with translation.override(request.language or settings.LANGUAGE_CODE):
            message = _event_email(event)
        message.send()
        RequestEvent.objects.filter(pk=event.pk).update(
            notify=NotifyState.SENT, notified_at=timezone.now()
        )
    return "sent"


def _event_email(event: RequestEvent) -> EmailMultiAlternatives:
    """The email for one timeline event (plain text with an HTML alternative), in the active
    language."""
    from .presentation import status_story

    request = event.request
    subject = gettext("%(tracking_number)s: %(status)s") % {
        "tracking_number": request.tracking_number,
        "status": request.get_status_display(),
    }
    context = {
        "event": event,
        "request": request,
        "story": status_story(request),
        "subject": subject,
        "language": translation.get_language(),
        "url": f"{settings.SITE_URL}/requests/{request.tracking_number}/",
        "track_url": f"{settings.SITE_URL}/track/",
        "bureau": settings.HMS_BUREAU_NAME,
    }
    text = render_to_string("service_requests/email/event.txt", context)
    html = render_to_string("service_requests/email/event.html", context)
    message = EmailMultiAlternatives(subject, text, None, [request.contact_email])
    message.attach_alternative(html, "text/html")
    return message


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
    drafts = list(
        RequestDraft.objects.filter(verify_state=VerifyState.PENDING, verify_sent_at__lt=cutoff)
        .order_by("verify_sent_at")
        .values_list("pk", flat=True)[:500]
    )
    for draft_id in drafts:
        send_draft_verification.delay(str(draft_id))
    return len(ids) + len(drafts)


@shared_task
def purge_stale_drafts() -> int:
    """Beat, hourly: delete unfinished filing drafts (and their files) left untouched too long."""
    from .filing import drafts_purge

    return drafts_purge()


@shared_task(**EMAIL_TASK_OPTIONS)
def send_draft_verification(self, draft_id: str) -> str:  # type: ignore[no-untyped-def]
    """Email the one-time link that files a draft made without an account. Idempotent: a link
    already sent (or replaced, or used) is skipped."""
    from .filing import verification_link_token

    with transaction.atomic():
        # Lock the draft: two deliveries of this task cannot both send.
        draft = RequestDraft.objects.select_for_update().filter(pk=draft_id).first()
        if draft is None or draft.verify_state != VerifyState.PENDING or not draft.email:
            return "skipped"
        with translation.override(draft.language or settings.LANGUAGE_CODE):
            subject = gettext("Confirm your request to %(bureau)s") % {
                "bureau": settings.HMS_BUREAU_NAME
            }
            context = {
                "subject": subject,
                "language": translation.get_language(),
                "url": f"{settings.SITE_URL}/requests/new/verify/{verification_link_token(draft)}/",
                "hours": int(conf.get("VERIFY_LINK_SECONDS")) // 3600,
                "bureau": settings.HMS_BUREAU_NAME,
            }
            text = render_to_string("service_requests/email/verify.txt", context)
            html = render_to_string("service_requests/email/verify.html", context)
        message = EmailMultiAlternatives(subject, text, None, [draft.email])
        message.attach_alternative(html, "text/html")
        message.send()
        RequestDraft.objects.filter(pk=draft.pk).update(verify_state=VerifyState.SENT)
    return "sent"
