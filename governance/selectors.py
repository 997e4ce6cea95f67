"""Read-only queries for governance, always scoped to the user asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from .models import DECIDE_PERMISSION, REVIEW_PERMISSION, ApprovalCase, CaseStatus, Program

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def programs_for(*, user: User | AnonymousUser, permission: str) -> QuerySet[Program]:
    """Programs on which `user` holds `permission` as an object permission (all for superusers)."""
    if not user.is_authenticated or not user.is_active:
        return Program.objects.none()
    if user.is_superuser:
        return Program.objects.all()
    return get_objects_for_user(
        user, permission, klass=Program, accept_global_perms=False, with_superuser=False
    )


def programs_reviewed_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    return programs_for(user=user, permission=REVIEW_PERMISSION)


def programs_decided_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    return programs_for(user=user, permission=DECIDE_PERMISSION)


def case_inbox(
    *, user: User | AnonymousUser, include_closed: bool = False
) -> QuerySet[ApprovalCase]:
    """Cases in the programs `user` may decide, leaving out those they made or recommended."""
    cases = (
        ApprovalCase.objects.filter(program__in=programs_decided_by(user=user))
        .exclude(Q(maker=user) | Q(recommender=user))
        .select_related("program", "maker", "recommender")
    )
    if not include_closed:
        cases = cases.filter(status=CaseStatus.OPEN)
    return cases.order_by("opened_at", "pk")


def case_for_decider(*, user: User | AnonymousUser, case_id: int) -> ApprovalCase | None:
    """The case if `user` may see it in the workflow screens (any status), else None."""
    return (
        ApprovalCase.objects.filter(pk=case_id, program__in=programs_decided_by(user=user))
        .select_related("program", "maker", "recommender")
        .prefetch_related("decisions__decided_by")
        .first()
    )
