"""The catalogue of services civilians file for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from core.audit import record_history

from ..models import ServiceType

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def service_type_save(
    *, actor: User, code: str, values: dict[str, Any], reason: str
) -> ServiceType:
    """Create the service type `code`, or set its fields to `values`; its history row names
    `actor` and `reason` (e.g. the file it was imported from)."""
    # Lock the row: a concurrent import or admin edit of the same code waits for this one.
    service = ServiceType.objects.select_for_update().filter(code=code).first()
    if service is None:
        service = ServiceType(code=code)
    for name, value in values.items():
        setattr(service, name, value)
    service.full_clean(validate_unique=False)
    record_history(service, actor=actor, reason=reason)
    service.save()
    return service
