"""Governance's emails: what they tell (a blocked case, a deadline coming, an escalation) and
how they go out: kept with the transaction as a queued task (`core.services.queue`), published
to Celery once it commits, sent by the task, one message per person. The services call the
message functions; nothing else sends governance email.

While the broker is away the email waits in the database and goes when it is back; a task
published twice (a drainer killed mid-publish) may send its message twice, never none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from core.services.queue import task_enqueue

if TYPE_CHECKING:
    from .models import ApprovalCase

NOTIFY_USERS_TASK = "governance.tasks.notify_users"


# The task keeps the name it is queued under in deployed brokers.
@shared_task(
    name=NOTIFY_USERS_TASK,
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
    """Email the users once the current transaction commits (nothing if it rolls back)."""
    ids = sorted({i for i in user_ids if i is not None})
    if ids:
        task_enqueue(name=NOTIFY_USERS_TASK, args=[ids, subject, body])


def _case_url(case: ApprovalCase) -> str:
    return f"{settings.SITE_URL}/workflow/cases/{case.pk}/"


def administrator_ids() -> list[int]:
    """The administrators who can be emailed: active superusers with an address."""
    return list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("pk", flat=True)
    )


def administrators_case_blocked(case: ApprovalCase) -> None:
    send_later(
        administrator_ids(),
        f"Approval case {case.pk} is blocked",
        f"{case.subject_label}\n\n{case.blocked_reason}\n\nActivate a policy that covers it, "
        f"then apply it to the case in the admin: {_case_url(case)}",
    )


def step_warning(case: ApprovalCase, user_ids: list[int], step_name: str, due: str) -> None:
    send_later(
        user_ids,
        f"Approval case {case.pk} is due {due}",
        f"{case.subject_label}\n\nThe step “{step_name}” is due {due}. {_case_url(case)}",
    )


def step_escalated(case: ApprovalCase, user_ids: list[int], step_name: str, target: str) -> None:
    send_later(
        user_ids,
        f"Approval case {case.pk} is overdue and escalated",
        f"{case.subject_label}\n\nThe step “{step_name}” is overdue and was escalated to "
        f"{target}. {_case_url(case)}",
    )
