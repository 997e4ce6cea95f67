"""What the owner of an account is told about its sign-ins: a lockout and a sign-in from a
new device. Kept with the transaction as a queued task (`core.services.queue`) and sent by a
Celery task, never inside the request; while the broker is away it waits in the database."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from core.services.queue import task_enqueue

NOTIFY_OWNER_TASK = "core.tasks.notify_account_owner"


@shared_task(
    name=NOTIFY_OWNER_TASK,
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
    task_enqueue(name=NOTIFY_OWNER_TASK, args=[user_id, subject, body])


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
