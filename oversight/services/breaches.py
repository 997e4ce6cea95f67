"""Breaches of service levels: marked once by the beat task, then emailed to the request's
assignee and its program's supervisors through the outbox (`core.outbox`).

Marking writes the breach rows in one transaction and hands them to the outbox on commit;
nothing is emailed inside it. Each email is sent by `breach_email_send` in a transaction of
its own that locks its row (at least once, with a stable `Message-ID`, like the civilians'
emails in `service_requests.services.notifications`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from core.outbox import hand_over
from service_requests import selectors as requests

from .. import conf, selectors
from ..models import Breach, NotifyState

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# The outbox kind named to the worker's drainer (`hms_portal.outbox.DRAINS`).
OUTBOX_BREACH_EMAIL = "breach-email"
# Enqueued by name: `oversight.tasks` calls these services, so they do not import it back.
SEND_BREACH_EMAIL_TASK = "oversight.tasks.send_breach_email"

CLOCK_WORDS = {
    "first_response": "first response",
    "decision": "approval decision",
    "resolution": "resolution",
}


def _enqueue(breach_ids: list[int]) -> None:
    task = current_app.tasks[SEND_BREACH_EMAIL_TASK]  # a KeyError is a bug, not the broker
    for pk in breach_ids:
        try:
            task.delay(pk)
        except Exception:  # the broker is down: the outbox keeps the email for the sweep
            logger.warning("Broker unreachable; breach %s email left in the outbox", pk)


@transaction.atomic
def breaches_mark(*, actor: User | None = None, now: datetime) -> int:
    """Mark each open request's clock that is past its target as a breach, once; returns how
    many were marked now. Idempotent: a clock already marked is never marked again (the
    unique key `oversight_breach_once` holds it under concurrent runs too, whose duplicate
    rows are dropped by the insert). Beat runs it (`oversight.tasks.mark_breaches`)."""
    facts = requests.requests_open_facts()
    levels = [level for level in selectors.service_levels(facts, now=now) if level.overdue]
    marked = selectors.breaches_marked(request_ids=[level.facts.id for level in levels])
    new = []
    for level in levels:
        for status in level.clocks.values():
            key = (level.facts.id, status.clock.value)
            if status.overdue and key not in marked and status.due_at is not None:
                new.append(
                    Breach(
                        request_id=level.facts.id,
                        clock=status.clock.value,
                        due_at=status.due_at,
                        detected_at=now,
                    )
                )
    new = new[: int(conf.get("BREACH_BATCH"))]
    if not new:
        return 0
    Breach.objects.bulk_create(new, ignore_conflicts=True)
    ids = list(
        Breach.objects.filter(
            detected_at=now, request_id__in=[b.request_id for b in new]
        ).values_list("pk", flat=True)
    )
    hand_over(OUTBOX_BREACH_EMAIL, ids, lambda: _enqueue(ids))
    return len(ids)


@transaction.atomic
def breach_email_send(*, actor: User | None = None, breach_id: int) -> str:
    """Email one breach to the request's assignee and the program's supervisors (one message
    each) and mark it sent ("sent"); a breach already sent is skipped ("skipped")."""
    # Lock the outbox row: two senders cannot both send; one finding it locked skips it.
    breach = Breach.objects.select_for_update(skip_locked=True).filter(pk=breach_id).first()
    if breach is None or breach.notify != NotifyState.PENDING:
        return "skipped"
    facts = requests.requests_facts(request_ids=[breach.request_id])[0]
    recipients = selectors.breach_recipients(facts=facts)
    addresses = (
        get_user_model()
        .objects.filter(pk__in=recipients, is_active=True)
        .exclude(email="")
        .values_list("pk", "email")
    )
    what = CLOCK_WORDS.get(breach.clock, breach.clock)
    local_due = timezone.localtime(breach.due_at, conf.zone())
    subject = f"[HMS] {facts.tracking_number}: {what} target missed"
    body = (
        f"Request {facts.tracking_number} missed its {what} target, due "
        f"{local_due:%Y-%m-%d %H:%M %Z}.\n\n"
        f"{settings.SITE_URL}/admin/service_requests/servicerequest/{facts.id}/change/\n"
    )
    stamp = int(breach.detected_at.timestamp() * 1_000_000)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "hms.invalid"
    # One message each (no address shown to another), each with its own stable Message-ID.
    for user_id, address in sorted(addresses):
        headers = {"Message-ID": f"<hms.breach.{breach.pk}.{stamp}.{user_id}@{domain}>"}
        EmailMessage(subject, body, None, [address], headers=headers).send()
    Breach.objects.filter(pk=breach.pk).update(notify=NotifyState.SENT, notified_at=timezone.now())
    return "sent"
