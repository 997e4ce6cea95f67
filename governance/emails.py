"""Governance's emails on their way out: enqueued when the transaction commits, sent by a Celery
task, one message per person.

If the broker is unreachable the email is dropped with a warning: what it tells is on the
case's timeline and in the inbox anyway (blocked cases, warnings, escalations).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)


# The task keeps the name it is queued under in deployed brokers.
@shared_task(
    name="governance.tasks.notify_users",
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


def send_later(user_ids: list[int], subject: str, body: str) -> None:
    """Email the users once the current transaction commits."""
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return

    def enqueue() -> None:
        try:
            notify_users.delay(ids, subject, body)
        except Exception:  # the broker is down: the timeline still records what happened
            logger.warning("Broker unreachable; governance email %r not sent", subject)

    transaction.on_commit(enqueue)
