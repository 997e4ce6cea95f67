"""People who sign in: Django's users with the verified address allauth needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def account_ensure(
    *,
    actor: User | None,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    password: str | None = None,
    groups: Iterable[str] = (),
) -> tuple[User, bool]:
    """The user called `username`, made when missing; returns it and whether it was made.

    A new user gets the names, flags and password given (none: no usable password). An
    existing one is left as it is, apart from joining `groups` (by name; each must exist).
    Either way the user ends with `email` as a verified address, so allauth's mandatory
    verification lets them sign in. Idempotent; `actor` is who asked (None for a command run
    with no person behind it); Django's users carry no history of their own.
    """
    user_model = get_user_model()
    user, created = user_model.objects.select_for_update().get_or_create(
        username=username,
        defaults={
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "is_staff": is_staff,
            "is_superuser": is_superuser,
        },
    )
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(update_fields=["password"])
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user, created  # type: ignore[return-value]
