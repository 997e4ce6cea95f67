"""Requests move to "funded" when their claims are granted: one by one when a finance officer
grants a fund's waiting claims, in bulk when an allocation round is committed.

Allocations announces the claims it granted (`core.events.CLAIMS_GRANTED`,
subscribed in `ServiceRequestsConfig.ready()`), inside the granting transaction and with the
user who granted them. A committed round may grant 100,000 claims at once, so
`requests_on_claims_granted` is set-based: the requests are locked and read a chunk at a time
(one query each), moved through their state machine's own transition in memory, written with one
bulk update and one bulk insert of their history rows (the acting user and the reason on each),
their timeline events written with one bulk insert, the facts each transition announces
gathered per chunk (`core.events.batch()`: the webhook outbox writes them together), and their
emails enqueued after the commit (one task per request, through the outbox: a broker that is
down delays them, never loses them). A request no longer waiting for its money (withdrawn or
closed meanwhile) is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed
from simple_history.utils import bulk_update_with_history

from allocations import selectors as allocations
from core import events
from core.db import id_in
from core.money import format_money
from core.outbox import hand_over

from .. import messages as standard
from ..models import EventKind, NotifyState, RequestEvent, ServiceRequest, Status
from .common import OUTBOX_EVENT_EMAIL, enqueue_notification

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from allocations.selectors import GrantedClaim

# Requests locked, moved and written per chunk (one SELECT ... FOR UPDATE, one UPDATE, two
# INSERTs per chunk).
CHUNK = 5_000
REASON = "funded: its claim was granted"

# The transition that records a grant, by the status the request waits in.
_TRANSITIONS = {Status.AWAITING_FUNDS: "funds_arrived", Status.APPROVED: "fund"}


def funded_message(granted: GrantedClaim) -> str:
    """The civilian's timeline sentence for a grant (English, as stored); a partial grant
    says how much of what was asked it covers."""
    amount = format_money(granted.granted_minor, granted.currency)
    if granted.partial:
        return standard.english(
            standard.PARTLY_FUNDED,
            amount=amount,
            asked=format_money(granted.asked_minor, granted.currency),
        )
    return standard.english(standard.FUNDED_LATER, amount=amount)


@transaction.atomic(savepoint=False)
def requests_on_claims_granted(*, claim_ids: Sequence[int], actor: User) -> list[int]:
    """Move the requests behind `claim_ids` to funded (subscribed to the claims a committed round
    granted). Runs inside the caller's transaction; returns the ids of the requests moved.
    Idempotent: a request already funded is not moved or notified again."""
    moved: list[int] = []
    ordered = sorted(set(claim_ids))
    for start in range(0, len(ordered), CHUNK):
        # Each transition announces its status change; listeners (the webhook outbox) write what
        # they make of them together at the chunk's end, not one by one.
        with events.batch():
            moved += _fund_chunk(ordered[start : start + CHUNK], actor=actor)
    return moved


def _fund_chunk(claim_ids: list[int], *, actor: User) -> list[int]:
    # Lock the requests (in id order, like every other bulk lock here): a reviewer's step on
    # one of them waits for the commit, then finds it funded. The service type comes along for
    # the status-change receivers (webhooks) that each transition notifies.
    requests = list(
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("service_type")
        .filter(id_in(ServiceRequest, "claim", claim_ids), status__in=list(_TRANSITIONS))
        .order_by("pk")
    )
    if not requests:
        return []
    granted = allocations.claims_granted(
        claim_ids=[r.claim_id for r in requests if r.claim_id is not None]
    )
    now = timezone.now()
    moving: list[ServiceRequest] = []
    timeline: list[RequestEvent] = []
    for request in requests:
        grant = granted.get(request.claim_id)  # type: ignore[arg-type]
        transition = getattr(request, _TRANSITIONS[Status(request.status)])
        if grant is None or not can_proceed(transition):
            continue
        transition()
        request.updated_at = now
        moving.append(request)
        timeline.append(
            RequestEvent(
                request=request,
                kind=EventKind.FUNDED,
                actor=actor,
                message=funded_message(grant),
                notify=NotifyState.PENDING,
            )
        )
    bulk_update_with_history(
        moving,
        ServiceRequest,
        ["status", "updated_at"],
        batch_size=CHUNK,
        default_user=actor,
        default_change_reason=REASON,
        default_date=now,
    )
    written = RequestEvent.objects.bulk_create(timeline, batch_size=CHUNK)
    ids = [event.pk for event in written]
    hand_over(OUTBOX_EVENT_EMAIL, ids, partial(_enqueue, ids))
    return [request.pk for request in moving]


def _enqueue(event_ids: list[int]) -> None:
    """One email task per event; each left pending in the outbox if the broker is down."""
    for event_id in event_ids:
        enqueue_notification(event_id)
