"""Celery tasks: the civilian's emails, sent from the outbox (at least once, with a stable
`Message-ID`: see `services.notifications`), and the hourly purge of unfinished drafts. Each
calls one service; the outbox's reads are the selectors'."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from core.audit import system_user

from . import selectors, services

logger = logging.getLogger(__name__)

OUTBOX_GRACE = timedelta(seconds=30)
OUTBOX_BATCH = 500
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
    return services.event_email_send(actor=None, event_id=event_id)


@shared_task
def flush_notification_outbox() -> int:
    """Re-enqueue emails still pending after the grace period (the broker was unreachable
    when they were written). Run by beat."""
    cutoff = timezone.now() - OUTBOX_GRACE
    ids = selectors.events_awaiting_email(before=cutoff, limit=OUTBOX_BATCH)
    for event_id in ids:
        send_event_email.delay(event_id)
    drafts = selectors.drafts_awaiting_link(before=cutoff, limit=OUTBOX_BATCH)
    for draft_id in drafts:
        send_draft_verification.delay(str(draft_id))
    return len(ids) + len(drafts)


@shared_task
def purge_stale_drafts() -> int:
    """Beat, hourly: delete unfinished filing drafts (and their files) left untouched too long."""
    return services.drafts_purge(actor=None)


@shared_task(**EMAIL_TASK_OPTIONS)
def send_draft_verification(self, draft_id: str) -> str:  # type: ignore[no-untyped-def]
    """Email the one-time link that files a draft made without an account. Idempotent: a link
    already sent (or replaced, or used) is skipped."""
    return services.draft_verification_send(actor=None, draft_id=draft_id)


@shared_task
def begin_absences() -> int:
    """Beat, hourly: hand back the open requests of staff whose absence starts today
    (idempotent: once handed back, nothing is left to hand back)."""
    return services.absences_begin(actor=system_user())
