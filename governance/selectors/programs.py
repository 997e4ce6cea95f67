"""Programs a user holds a permission on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from ..models import (
    DECIDE_PERMISSION,
    REVIEW_PERMISSION,
    Program,
    ProgramGroupObjectPermission,
    ProgramUserObjectPermission,
)

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


def holders(*, program_id: int, permission: str) -> QuerySet[User]:
    """The active users holding `permission` on the program, directly or through a group
    (superusers are not counted: they hold everything and review nothing by default). One
    query, usable as a subquery."""
    codename = permission.split(".", 1)[1]
    app_label = permission.split(".", 1)[0]
    direct = ProgramUserObjectPermission.objects.filter(
        content_object_id=program_id,
        permission__codename=codename,
        permission__content_type__app_label=app_label,
    ).values("user_id")
    groups = ProgramGroupObjectPermission.objects.filter(
        content_object_id=program_id,
        permission__codename=codename,
        permission__content_type__app_label=app_label,
    ).values("group_id")
    users = get_user_model().objects.filter(Q(pk__in=direct) | Q(groups__in=groups))
    return users.filter(is_active=True).distinct()  # type: ignore[return-value]
