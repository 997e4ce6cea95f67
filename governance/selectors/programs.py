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


def program_by_code(*, code: str) -> Program | None:
    return Program.objects.filter(code=code).first()


def program_decider_ids(*, program_id: int) -> list[int]:
    """Ids of the active users who hold `decide_program` on the program in their own right,
    directly or through a group (the program's supervisors)."""
    codename = DECIDE_PERMISSION.split(".")[1]
    direct = ProgramUserObjectPermission.objects.filter(
        content_object_id=program_id, permission__codename=codename
    ).values("user_id")
    groups = ProgramGroupObjectPermission.objects.filter(
        content_object_id=program_id, permission__codename=codename
    ).values("group_id")
    users = get_user_model().objects.filter(Q(pk__in=direct) | Q(groups__in=groups))
    return sorted(set(users.filter(is_active=True).values_list("pk", flat=True)))


def programs_for_ids(*, program_ids: list[int] | None) -> QuerySet[Program]:
    """The programs `program_ids` (None: every program), by name."""
    found = Program.objects.order_by("name")
    return found if program_ids is None else found.filter(pk__in=program_ids)


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
