"""Emails of governance: sent by a Celery task enqueued when the transaction commits.

If the broker is unreachable the email is dropped with a warning: what it tells is on the
case's timeline and in the inbox anyway (blocked cases, warnings, escalations).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

if TYPE_CHECKING:
    from ..models import ApprovalCase

logger = logging.getLogger(__name__)


def _case_url(case: ApprovalCase) -> str:
    return f"{settings.SITE_URL}/workflow/cases/{case.pk}/"


def send_later(user_ids: list[int], subject: str, body: str) -> None:
    """Email the users once the current transaction commits."""
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return

    def enqueue() -> None:
        from ..tasks import notify_users

        try:
            notify_users.delay(ids, subject, body)
        except Exception:  # the broker is down: the timeline still records what happened
            logger.warning("Broker unreachable; governance email %r not sent", subject)

    transaction.on_commit(enqueue)


def administrator_ids() -> list[int]:
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
