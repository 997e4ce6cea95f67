"""What the owner of an account is told about its sign-ins: a lockout and a sign-in from a
new device. Enqueued when the transaction commits and sent by a Celery task, never inside the
request. If the broker is unreachable the email is dropped with a warning: the event is in the
security log either way."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)


@shared_task(
    name="core.tasks.notify_account_owner",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 5},
)
def notify_account_owner(user_id: int, subject: str, body: str) -> int:
    """Email the account's owner (active accounts with an address only)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return 0
    return send_mail(f"[HMS] {subject}", body, None, [user.email])


def _send_later(user_id: int, subject: str, body: str) -> None:
    def enqueue() -> None:
        try:
            notify_account_owner.delay(user_id, subject, body)
        except Exception:  # the broker is down: the security log still has the event
            logger.warning("Broker unreachable; account email %r not sent", subject)

    transaction.on_commit(enqueue)


def owner_locked_out(user_id: int, ip_address: str) -> None:
    _send_later(
        user_id,
        "Sign-in to your account paused after failed attempts",
        "There were too many failed attempts to sign in to your account from the address "
        f"{ip_address or 'unknown'}. Sign-ins from that address are paused for a few minutes; "
        "you can still sign in from your usual device.\n\n"
        "If this was not you, change your password and tell the bureau's administrators: "
        f"{settings.SITE_URL}/accounts/password/change/",
    )


def owner_new_device(user_id: int, family: str, ip_address: str) -> None:
    _send_later(
        user_id,
        "New sign-in to your account",
        f"Your account was signed in to from {family} at the address "
        f"{ip_address or 'unknown'}, which we had not seen you use before.\n\n"
        "If this was you, there is nothing to do. If not, change your password and tell the "
        f"bureau's administrators: {settings.SITE_URL}/accounts/password/change/",
    )
