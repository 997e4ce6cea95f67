"""What governance tells people by email: blocked cases, deadline warnings, escalations. Each
message goes out once the transaction commits (`governance.emails`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model

from ..emails import send_later

if TYPE_CHECKING:
    from ..models import ApprovalCase


def _case_url(case: ApprovalCase) -> str:
    return f"{settings.SITE_URL}/workflow/cases/{case.pk}/"


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
