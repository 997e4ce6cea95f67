"""Object permissions checked during one request, read once (django-guardian).

guardian's backend builds a new `ObjectPermissionChecker` for every `user.has_perm(perm, obj)`,
and each new checker reads the user's and their groups' permissions on the object again (two
queries a check, through `auth_permission`). A page that checks permissions on objects takes
the request's one checker (`request_permissions`), prefetches what it will check
(`ObjectPermissionChecker.prefetch_perms`: two queries for any number of objects of a model)
and asks it: the answers are guardian's own (inactive users hold nothing, superusers
everything), without the repeated reads.
"""

from __future__ import annotations

from typing import Any

from guardian.core import ObjectPermissionChecker

_ATTRIBUTE = "_hms_object_permissions"


def request_permissions(request: Any) -> ObjectPermissionChecker:
    """The checker of `request.user` for this request (built on the first call)."""
    checker = getattr(request, _ATTRIBUTE, None)
    if checker is None or checker.user != request.user:
        checker = ObjectPermissionChecker(request.user)
        setattr(request, _ATTRIBUTE, checker)
    return checker
