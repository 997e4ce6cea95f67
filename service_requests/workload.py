"""Reads of the staff's workload: a reviewer's queue, a supervisor's team, the unassigned
queue, workload fairness per program, and what the case page shows of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from allocations.selectors import fund_available_minor
from governance.models import REVIEW_PERMISSION, Program
from governance.selectors import holders, programs_decided_by
from governance.subjects import Document, Message, Related, SubjectDetails

from .fairness import gini, jain_index
from .models import REVIEW_STATUSES, Absence, EventKind, ReviewerProfile, ServiceRequest
from .selectors import requests_for_staff

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


# -- the reviewers' queues, their supervisors' teams, workload fairness --------------------


def _overdue_first(requests: list[ServiceRequest], today: date) -> list[ServiceRequest]:
    """Past their service's target day first (oldest first within each group)."""
    return sorted(requests, key=lambda r: (r.target_date >= today, r.submitted_at, r.pk))


def my_queue(*, user: User | AnonymousUser, today: date | None = None) -> list[ServiceRequest]:
    """The reviewer's open requests (in review statuses), overdue first; each carries
    `overdue`. Bounded by their cap, so sorted here rather than by the database."""
    if not user.is_authenticated or not user.is_staff:
        return []
    today = today or timezone.localdate()
    found = list(
        ServiceRequest.objects.filter(assignee_id=user.pk, status__in=REVIEW_STATUSES)
        .select_related("service_type")
        .order_by("submitted_at", "pk")
    )
    for request in found:
        request.overdue = request.target_date < today  # type: ignore[attr-defined]
    return _overdue_first(found, today)


@dataclass
class TeamMember:
    """One reviewer on a supervisor's team: their terms, load, absence and open requests."""

    user: Any
    cap: int
    open_cases: int
    open_effort: int
    away: bool
    requests: list[ServiceRequest] = field(default_factory=list)


def team_of(*, supervisor: User | AnonymousUser, today: date | None = None) -> list[TeamMember]:
    """The reviewers whose supervisor is `supervisor` (everyone's, for an administrator),
    with their open requests overdue first. Three queries."""
    if not supervisor.is_authenticated or not supervisor.is_staff:
        return []
    today = today or timezone.localdate()
    profiles = ReviewerProfile.objects.select_related("user").order_by("user__username")
    if not supervisor.is_superuser:
        profiles = profiles.filter(supervisor_id=supervisor.pk)
    members = {
        p.user_id: TeamMember(p.user, p.cap, p.open_cases, p.open_effort, away=False)
        for p in profiles
    }
    away = Absence.objects.filter(
        user_id__in=list(members), cancelled=False, starts_on__lte=today, ends_on__gte=today
    ).values_list("user_id", flat=True)
    for user_id in away:
        members[user_id].away = True
    for request in (
        ServiceRequest.objects.filter(assignee_id__in=list(members), status__in=REVIEW_STATUSES)
        .select_related("service_type")
        .order_by("submitted_at", "pk")
    ):
        request.overdue = request.target_date < today  # type: ignore[attr-defined]
        members[request.assignee_id].requests.append(request)  # type: ignore[index]
    for member in members.values():
        member.requests = _overdue_first(member.requests, today)
    return list(members.values())


def unassigned_queue(*, user: User | AnonymousUser) -> QuerySet[ServiceRequest]:
    """Open requests nobody reviews yet, in the programs `user` decides for (all for an
    administrator), oldest first."""
    if not user.is_authenticated or not user.is_staff:
        return ServiceRequest.objects.none()
    requests = ServiceRequest.objects.filter(status__in=REVIEW_STATUSES, assignee__isnull=True)
    if not user.is_superuser:
        programs = programs_decided_by(user=user).values("pk")
        requests = requests.filter(service_type__program__in=programs)
    return requests.select_related("service_type").order_by("submitted_at", "pk")


def reviewers_of(*, program_ids: list[int]) -> QuerySet[Any]:
    """Active staff who review any of the programs (the choices of a reassignment)."""
    ids: set[int] = set()
    for program_id in program_ids:
        ids |= set(
            holders(program_id=program_id, permission=REVIEW_PERMISSION).values_list(
                "pk", flat=True
            )
        )
    return get_user_model().objects.filter(pk__in=ids, is_staff=True).order_by("username")


@dataclass(frozen=True)
class Workload:
    """A program's effort-weighted open requests per reviewer and their fairness."""

    program: Program
    loads: dict[int, int]
    jain: float
    gini: float


def workload_by_program() -> list[Workload]:
    """Per active program: each reviewer's effort-weighted open requests of that program
    (reviewers with none count as 0) and the Jain and Gini figures (`fairness`)."""
    weights = (
        ServiceRequest.objects.filter(status__in=REVIEW_STATUSES, assignee__isnull=False)
        .values("service_type__program_id", "assignee_id")
        .annotate(effort=Sum(Coalesce("service_type__assignment_rule__effort", Value(1))))
    )
    by_program: dict[int, dict[int, int]] = {}
    for row in weights:
        by_program.setdefault(row["service_type__program_id"], {})[row["assignee_id"]] = row[
            "effort"
        ]
    found = []
    for program in Program.objects.filter(active=True).order_by("name"):
        loads = dict.fromkeys(
            holders(program_id=program.pk, permission=REVIEW_PERMISSION)
            .filter(is_staff=True)
            .values_list("pk", flat=True),
            0,
        )
        loads.update(by_program.get(program.pk, {}))
        values = list(loads.values())
        found.append(Workload(program, loads, jain_index(values), gini(values)))
    return found


# -- what the supervisor's case page shows of a request -------------------------------------

_THREAD_KINDS = (EventKind.INFO_REQUESTED, EventKind.INFO_PROVIDED)


def case_subject_details(*, case: Any, viewer: Any) -> SubjectDetails | None:
    """The request behind an approval case, for the case page: its documents, the reviewer's
    questions and the civilian's answers, the recommendation, the amount with its fund's
    available balance, and the civilian's earlier requests (those the viewer may see)."""
    request = (
        ServiceRequest.objects.filter(approval_case=case)
        .select_related("service_type__fund", "recommended_by")
        .first()
    )
    if request is None:
        return None
    fund = request.service_type.fund
    visible = requests_for_staff(user=viewer)
    earlier = (
        visible.filter(requester_id=request.requester_id)
        .exclude(pk=request.pk)
        .select_related("service_type")
        .order_by("-submitted_at", "-pk")[:20]
    )
    return SubjectDetails(
        recommendation_note=request.recommendation_note,
        recommended_by=(
            request.recommended_by.get_full_name() or request.recommended_by.get_username()
            if request.recommended_by
            else ""
        ),
        amount_minor=request.amount_minor,
        currency=request.currency,
        fund_name=fund.name if fund else "",
        fund_available_minor=fund_available_minor(fund=fund) if fund else None,
        documents=[
            Document(
                name=a.name,
                url=reverse("service_requests:attachment", args=[request.tracking_number, a.pk]),
                size=a.size,
            )
            for a in request.attachments.all()
        ],
        thread=[
            Message(
                at=event.created_at,
                who=(event.actor.get_full_name() or event.actor.get_username())
                if event.actor
                else "",
                kind=event.get_kind_display(),
                text=event.message,
            )
            for event in request.events.filter(kind__in=_THREAD_KINDS).select_related("actor")
        ],
        earlier=[
            Related(
                label=f"{r.tracking_number} · {r.service_type.name}",
                status=r.get_status_display(),
                at=r.submitted_at,
                url=reverse("admin:service_requests_servicerequest_change", args=[r.pk]),
            )
            for r in earlier
        ],
    )
