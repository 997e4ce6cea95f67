"""Requests, their timelines and service types brought in from the bureau's old systems (the
data migration, `integrations.dataio`), each written with the importing user.

An imported request is old news: it is written as it stood, with one history row naming the
importing user and the file, and it sends no email and tells no one of a submission. The
import checks every row before any of these run, and calls them inside its own transaction, so
a refused row rolls the whole file back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from ..models import REVIEW_STATUSES, NotifyState, RequestEvent, ServiceRequest, ServiceType
from .assignment import assign_automatically

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# A tracking number's year and serial (`HMS-2026-000123`).
_NUMBERED = re.compile(r"^HMS-([0-9]{4})-([0-9]+)$")


@transaction.atomic
def requester_import(*, actor: User, email: str, group: Group | None) -> User:
    """A civilian account for `email` (in `group`, the civilians), with no password: they
    claim it through the password reset, which verifies the address."""
    user = get_user_model()(username=email[:150], email=email, is_active=True)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    if group is not None:
        user.groups.add(group)
    EmailAddress.objects.create(user=user, email=email, verified=False, primary=True)
    return user  # type: ignore[return-value]


@transaction.atomic
def request_import(
    *,
    actor: User,
    tracking_number: str,
    service_type: ServiceType,
    requester: Any,
    submitted_at: datetime,
    values: dict[str, Any],
) -> ServiceRequest:
    """Insert one old request as it stood (`values`: contact details, description, amount,
    status, language). It has no history row yet and its submission time is the insert's:
    `requests_import_finish` stores `submitted_at` and writes the history rows of the batch."""
    request = ServiceRequest(
        tracking_number=tracking_number,
        service_type=service_type,
        requester=requester,
        currency=service_type.currency,
        **values,
    )
    request.full_clean(
        exclude=["status", "submission_token", "service_type", "requester"],
        validate_unique=False,
        validate_constraints=False,
    )
    request.skip_history_when_saving = True  # type: ignore[attr-defined]
    request.save(force_insert=True)
    del request.skip_history_when_saving  # type: ignore[attr-defined]
    request.submitted_at = submitted_at  # stored by `requests_import_finish`
    return request


@transaction.atomic
def requests_import_finish(*, actor: User, requests: Sequence[ServiceRequest], source: str) -> None:
    """Complete the requests `request_import` wrote: their submission times (the column fills
    itself in on insert, so one statement per batch sets the file's), one history row each
    naming `actor` and `source`, and the tracking numbers kept free for new requests."""
    if not requests:
        return
    ServiceRequest.objects.bulk_update(requests, ["submitted_at"], batch_size=1000)
    ServiceRequest.history.bulk_history_create(  # type: ignore[attr-defined]
        requests, default_user=actor, default_change_reason=f"imported from {source}"
    )
    _keep_tracking_numbers_free(requests)
    # Old requests still awaiting review are assigned as new arrivals are, in the import's
    # transaction (one history row more each, naming the rule).
    for request in requests:
        if request.status in REVIEW_STATUSES and request.assignee_id is None:
            assign_automatically(request, why="assigned on import")


def _keep_tracking_numbers_free(requests: Sequence[ServiceRequest]) -> None:
    """New requests are numbered from the id sequence in the current year: move it past
    every number imported for this year, so no new request is given one of them."""
    year = timezone.localdate().year
    highest = max(
        (
            int(m.group(2))
            for r in requests
            if (m := _NUMBERED.match(r.tracking_number)) and int(m.group(1)) == year
        ),
        default=0,
    )
    if not highest or connection.vendor != "postgresql":
        return
    table = ServiceRequest._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN %s > COALESCE(pg_sequence_last_value(seq), 0) "
            "THEN setval(seq, %s) END FROM pg_get_serial_sequence(%s, 'id') AS seq",
            [highest, highest, table],
        )


@transaction.atomic
def request_event_import(
    *,
    actor: User,
    request: ServiceRequest,
    kind: str,
    message: str,
    public: bool,
    by: User | None,
    created_at: datetime,
) -> RequestEvent:
    """Insert one step of an old request's timeline, done by `by`, notifying no one. Its time
    is the insert's: `request_events_import_finish` stores `created_at` for the batch."""
    event = RequestEvent.objects.create(
        request=request,
        kind=kind,
        message=message,
        public=public,
        actor=by,
        notify=NotifyState.NONE,
    )
    event.created_at = created_at  # stored by `request_events_import_finish`
    return event


@transaction.atomic
def request_events_import_finish(*, actor: User, events: Sequence[RequestEvent]) -> None:
    """Store the times of the timeline steps `request_event_import` wrote, in one statement
    per batch (the column fills itself in on insert)."""
    RequestEvent.objects.bulk_update(events, ["created_at"], batch_size=1000)
