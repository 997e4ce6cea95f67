"""Read-only queries on requests, always scoped to the user asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from governance.selectors import programs_decided_by, programs_reviewed_by

from .models import RequestEvent, ServiceRequest, ServiceType

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

VIEW_ALL_PERMISSION = "service_requests.view_all_requests"


def service_types_open() -> QuerySet[ServiceType]:
    return ServiceType.objects.filter(active=True).select_related("program", "fund")


def requests_of_civilian(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """The civilian's own requests, newest first."""
    if not user.is_authenticated:
        return ServiceRequest.objects.none()
    return ServiceRequest.objects.filter(requester=user).select_related("service_type")


def request_of_civilian(
    *, user: User | AnonymousUser, tracking_number: str
) -> ServiceRequest | None:
    """One of the civilian's own requests, or None (someone else's request does not exist)."""
    return requests_of_civilian(user=user).filter(tracking_number=tracking_number).first()


def public_timeline(*, request: ServiceRequest) -> QuerySet[RequestEvent]:
    return request.events.filter(public=True).order_by("created_at", "pk")


def requests_for_staff(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """Requests a staff member may see: every program with `view_all_requests` (auditors,
    finance), else those of the programs they review or decide for."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return ServiceRequest.objects.none()
    if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
        return ServiceRequest.objects.all()
    program_ids = set(programs_reviewed_by(user=user).values_list("pk", flat=True))
    program_ids |= set(programs_decided_by(user=user).values_list("pk", flat=True))
    # Filter on the service types' ids, not through a join to them: the planner estimates an
    # id list well and walks the (service_type, submitted_at) index.
    type_ids = list(
        ServiceType.objects.filter(program_id__in=program_ids).values_list("pk", flat=True)
    )
    if not type_ids:
        return ServiceRequest.objects.none()
    return ServiceRequest.objects.filter(service_type_id__in=type_ids)
