"""The civilian's emails, sent from the outbox: a timeline event's email and the one-time link
that files a draft made without an account. Called by the worker's outbox drainer and the
outbox's Celery tasks (no person acts: `actor` is None), in the language the civilian chose on
the site.

Delivery is at least once, never exactly once: the message goes to the mail server inside the
transaction that marks the row sent, so a worker killed between the two sends it again. Each
message carries a `Message-ID` derived from its outbox row (`outbox_message_id`), the same on
every resend, so mail servers and clients can drop the duplicate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from .. import conf
from ..models import NotifyState, RequestDraft, RequestEvent, VerifyState
from ..presentation import status_story
from ..selectors import verification_link_token

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User


@transaction.atomic
def event_email_send(*, actor: User | None = None, event_id: int) -> str:
    """Email the civilian about one timeline event and mark it sent ("sent"). Idempotent: an
    event already sent, or not meant to be emailed, is skipped ("skipped")."""
    # Lock the outbox row: two senders cannot both send; one finding it locked skips it (the
    # holder sends it, or leaves it pending for the next sweep).
    event = (
        RequestEvent.objects.select_for_update(of=("self",), skip_locked=True)
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
    headers = {"Message-ID": outbox_message_id("event", event.pk, event.created_at)}
    message = EmailMultiAlternatives(subject, text, None, [request.contact_email], headers=headers)
    message.attach_alternative(html, "text/html")
    return message


def outbox_message_id(kind: str, pk: object, written: datetime | None) -> str:
    """The `Message-ID` of an outbox row's email: the same whenever the row is sent again, and
    distinct between rows (and between databases, by the row's write time)."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "hms.invalid"
    stamp = int(written.timestamp() * 1_000_000) if written is not None else 0
    return f"<hms.{kind}.{pk}.{stamp}@{domain}>"


@transaction.atomic
def draft_verification_send(*, actor: User | None = None, draft_id: str) -> str:
    """Email the one-time link that files a draft made without an account ("sent").
    Idempotent: a link already sent (or replaced, or used) is skipped ("skipped")."""
    # Lock the draft: two senders cannot both send; one finding it locked skips it.
    draft = RequestDraft.objects.select_for_update(skip_locked=True).filter(pk=draft_id).first()
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
    # A new link (a new nonce) is a new message; a resend of the same link keeps its id.
    headers = {"Message-ID": outbox_message_id("link", draft.verify_nonce, draft.verify_sent_at)}
    message = EmailMultiAlternatives(subject, text, None, [draft.email], headers=headers)
    message.attach_alternative(html, "text/html")
    message.send()
    RequestDraft.objects.filter(pk=draft.pk).update(verify_state=VerifyState.SENT)
    return "sent"
