"""What the request services share: the locked re-read, the checked transition, the history
row with the acting user, and the timeline event whose email waits in the outbox."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from celery import current_app
from django.db.models import F
from django.db.models.functions import Greatest
from django_fsm import can_proceed

from core.audit import record_history
from core.outbox import hand_over
from governance.models import REVIEW_PERMISSION

from ..errors import ERR_NOT_ALLOWED, ERR_STALE, RequestError
from ..models import (
    REVIEW_STATUSES,
    AssignmentRule,
    NotifyState,
    RequestEvent,
    ReviewerProfile,
    ServiceRequest,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import User

logger = logging.getLogger("service_requests.services")

# Outbox kinds named to the worker's drainer (`core.outbox.hand_over`, `hms_portal.outbox`).
OUTBOX_EVENT_EMAIL = "event-email"
OUTBOX_DRAFT_LINK = "draft-link"

# The outbox's Celery tasks, enqueued by name: `service_requests.tasks` calls these services,
# so they do not import it back (`ServiceRequestsConfig.ready()` imports it, which registers
# the tasks in every process).
SEND_EVENT_EMAIL_TASK = "service_requests.tasks.send_event_email"
SEND_DRAFT_VERIFICATION_TASK = "service_requests.tasks.send_draft_verification"


def enqueue_notification(event_id: int) -> None:
    """Hand the email to Celery (run in-process when tasks do, see `core.outbox`); if the
    broker is unreachable the outbox row stays pending and the worker's sweep sends it."""
    task = current_app.tasks[SEND_EVENT_EMAIL_TASK]  # a KeyError is a bug, not the broker
    try:
        task.delay(event_id)
    except Exception:  # the broker is down: the outbox keeps the email for the next flush
        logger.warning("Broker unreachable; email for event %s left in the outbox", event_id)


def enqueue_verification(draft_id: uuid.UUID) -> None:
    """Hand the link's email to Celery; with the broker down it stays pending for the flush."""
    task = current_app.tasks[SEND_DRAFT_VERIFICATION_TASK]  # a KeyError is a bug
    try:
        task.delay(str(draft_id))
    except Exception:  # the broker is down: the outbox keeps the email for the next flush
        logger.warning("Broker unreachable; link for draft %s left pending", draft_id)


def event_record(
    request: ServiceRequest,
    *,
    kind: str,
    actor: User | None,
    message: str = "",
    public: bool = True,
    notify: bool = False,
) -> RequestEvent:
    """Write one timeline event; one to be emailed is an outbox row, enqueued on commit."""
    event = RequestEvent.objects.create(
        request=request,
        kind=kind,
        actor=actor,
        message=message,
        public=public,
        notify=NotifyState.PENDING if notify else NotifyState.NONE,
    )
    if notify:
        hand_over(OUTBOX_EVENT_EMAIL, [event.pk], lambda: enqueue_notification(event.pk))
    return event


def is_reviewer(actor: User, request: ServiceRequest) -> bool:
    return (
        actor.is_active
        and actor.is_staff
        and actor.has_perm(REVIEW_PERMISSION, request.service_type.program)
    )


def is_requester(actor: User, request: ServiceRequest) -> bool:
    return actor.is_active and request.requester_id == actor.pk


def locked(request_id: int) -> ServiceRequest:
    # Lock the request: a second click or a concurrent reviewer waits, then sees the new state.
    return (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("service_type__program")
        .get(pk=request_id)
    )


def refuse_unless(allowed: bool, request: ServiceRequest) -> None:
    """Refuse the change with "you may not" unless `allowed`."""
    if not allowed:
        raise RequestError(
            ERR_NOT_ALLOWED.format(tracking_number=request.tracking_number), code="forbidden"
        )


def refuse_stale(request: ServiceRequest, *, action: str) -> RequestError:
    """The refusal of a step the request's current status no longer allows."""
    return RequestError(
        ERR_STALE.format(
            tracking_number=request.tracking_number,
            status=request.get_status_display(),
            action=action,
        ),
        code="stale",
    )


def step(
    *,
    actor: User,
    request_id: int,
    transition: str,
    action: str,
    check: Callable[[User, ServiceRequest], bool] = is_reviewer,
) -> ServiceRequest:
    """Lock the request, check who acts and whether the state allows `transition`, apply it."""
    request = locked(request_id)
    refuse_unless(check(actor, request), request)
    method = getattr(request, transition)
    if not can_proceed(method):
        raise refuse_stale(request, action=action)
    method()
    return request


def save_with_history(request: ServiceRequest, *, actor: User, reason: str) -> None:
    """Save the request; its history row names `actor` and `reason`; the reviewers' loads
    follow a change of assignee or status in the same transaction."""
    before_assignee, before_status = ServiceRequest.objects.filter(pk=request.pk).values_list(
        "assignee_id", "status"
    ).first() or (None, None)
    record_history(request, actor=actor, reason=reason)
    request.save()
    loads_move(request, before_assignee=before_assignee, before_status=before_status)


def effort_of(service_type_id: int) -> int:
    effort = (
        AssignmentRule.objects.filter(service_type_id=service_type_id)
        .values_list("effort", flat=True)
        .first()
    )
    return effort or 1


def loads_move(
    request: ServiceRequest, *, before_assignee: int | None, before_status: str | None
) -> None:
    """Move the request's weight from its former assignee's load to its current one's, when
    the change of assignee or status moved it (only requests in review statuses count)."""
    before = before_assignee if before_status in REVIEW_STATUSES else None
    after = request.assignee_id if request.status in REVIEW_STATUSES else None
    if before == after:
        return
    effort = effort_of(request.service_type_id)
    if before is not None:
        ReviewerProfile.objects.filter(user_id=before).update(
            open_cases=Greatest(F("open_cases") - 1, 0),
            open_effort=Greatest(F("open_effort") - effort, 0),
        )
    if after is not None:
        ReviewerProfile.objects.get_or_create(user_id=after)
        ReviewerProfile.objects.filter(user_id=after).update(
            open_cases=F("open_cases") + 1, open_effort=F("open_effort") + effort
        )
