"""Programs a user holds a permission on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from guardian.shortcuts import get_objects_for_user

from ..models import DECIDE_PERMISSION, REVIEW_PERMISSION, Program

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


def programs_worked_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    """Programs on which `user` reviews or decides, in one query (all for superusers)."""
    if not user.is_authenticated or not user.is_active:
        return Program.objects.none()
    if user.is_superuser:
        return Program.objects.all()
    return get_objects_for_user(
        user,
        [REVIEW_PERMISSION, DECIDE_PERMISSION],
        klass=Program,
        any_perm=True,
        accept_global_perms=False,
        with_superuser=False,
    )


def programs_reviewed_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    return programs_for(user=user, permission=REVIEW_PERMISSION)


def programs_decided_by(*, user: User | AnonymousUser) -> QuerySet[Program]:
    return programs_for(user=user, permission=DECIDE_PERMISSION)
