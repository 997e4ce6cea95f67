"""Emitting webhook events: the outbox rows, written in the transaction of the change itself.

    from integrations.events import emit
    emit("transfer.posted", {"sequence": 42, ...})            # inside the service's atomic block

`emit` writes one `Event` and one `Delivery` per subscription that may receive it, in the
caller's transaction: if the change rolls back, so does the event; if it commits, the deliveries
are handed to Celery on commit, one task per batch of one subscription's deliveries, and a beat
task re-enqueues any the broker did not take. Nothing is written when no subscription wants the
event.

Who may receive an event: a subscription whose client is active, holds the event type's read
scope, and acts for an active user who may see what the event is about (the event type's view
permission, or the narrower `audience` the emitter passes, e.g. "may see this request"). The
payload carries no civilian's personal data: receivers fetch details through the API, with the
scopes they hold.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from . import conf
from .models import Delivery, Event, EventType, Subscription

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

Audience = Callable[["User"], bool]


@dataclass(frozen=True)
class EventSpec:
    """What a subscriber needs to receive an event type: a scope and a view permission."""

    scope: str
    permission: str


EVENT_SPECS: dict[str, EventSpec] = {
    EventType.REQUEST_SUBMITTED: EventSpec("requests:read", "service_requests.view_servicerequest"),
    EventType.REQUEST_STATUS_CHANGED: EventSpec(
        "requests:read", "service_requests.view_servicerequest"
    ),
    EventType.CASE_DECIDED: EventSpec("cases:read", "governance.view_approvalcase"),
    EventType.ROUND_COMMITTED: EventSpec("funds:read", "allocations.view_fund"),
    EventType.TRANSFER_POSTED: EventSpec("ledger:read", "ledger.view_transfer"),
    EventType.CYCLE_SETTLED: EventSpec("ledger:read", "ledger.view_clearingcycle"),
}


def may_receive(
    subscription: Subscription,
    spec: EventSpec,
    audience: Audience | None,
    seen: dict[int, bool] | None = None,
) -> bool:
    """Whether the subscription's client may be told of an event (see the module's doc).
    `seen` keeps the answer about each acting user across the subscriptions of one event, so a
    user behind several subscriptions is checked (and perhaps queried) once."""
    client = subscription.client
    user = client.application.user
    if not (subscription.active and client.active and user is not None and user.is_active):
        return False
    if spec.scope not in client.scope_list:
        return False
    if seen is not None and user.pk in seen:
        return seen[user.pk]
    answer = audience(user) if audience is not None else bool(user.has_perm(spec.permission))
    if seen is not None:
        seen[user.pk] = answer
    return answer


# The event types some active subscription takes, kept in the cache so that a change nobody
# subscribed to (the common case, e.g. every public submission) costs no query. Saving or
# deleting a subscription or a client drops the entry, at once and again on commit; the timeout
# bounds what a change made around the signals (a raw `UPDATE`) could leave stale.
SUBSCRIBED_TYPES_CACHE_KEY = "integrations:subscribed-event-types:v1"
SUBSCRIBED_TYPES_TIMEOUT = 300


def subscribed_types() -> frozenset[str]:
    """The event types at least one active subscription of an active client takes."""
    cached = cache.get(SUBSCRIBED_TYPES_CACHE_KEY)
    if cached is not None:
        return frozenset(cached)
    types = frozenset(
        event_type
        for listed in Subscription.objects.filter(active=True, client__active=True).values_list(
            "event_types", flat=True
        )
        for event_type in listed
    )
    cache.set(SUBSCRIBED_TYPES_CACHE_KEY, sorted(types), SUBSCRIBED_TYPES_TIMEOUT)
    return types


def forget_subscribed_types() -> None:
    """Drop the cached set now and once the current transaction commits."""
    cache.delete(SUBSCRIBED_TYPES_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(SUBSCRIBED_TYPES_CACHE_KEY))


def subscriptions_changed(sender: Any, **kwargs: Any) -> None:
    """`post_save`/`post_delete` of a subscription or a client: see `forget_subscribed_types`."""
    forget_subscribed_types()


def wanted(event_type: str) -> bool:
    """Whether any active subscription takes `event_type` (lets a receiver skip its work)."""
    return event_type in subscribed_types()


def emit(
    event_type: str,
    payload: dict[str, Any],
    *,
    using_transaction: bool = True,
    audience: Audience | None = None,
) -> Event | None:
    """Write the event and its deliveries; enqueue them when the transaction commits.

    With `using_transaction` (the default) the rows join the caller's transaction, which must
    be open (call it from inside the service's `atomic` block); without it `emit` commits them
    in a transaction of its own. Returns the event, or None when no subscription takes it or
    when a `deferred()` block collects it.
    """
    if event_type not in EVENT_SPECS:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    if not using_transaction:
        with transaction.atomic():
            return _emit(event_type, payload, audience)
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "emit(..., using_transaction=True) must run inside the change's transaction."
        )
    pending = getattr(_deferring, "entries", None)
    if pending is not None:  # inside `deferred()`: written when the block ends
        pending.append((event_type, payload, audience))
        return None
    return _emit(event_type, payload, audience)


def emit_many(
    event_type: str, payloads: list[dict[str, Any]], *, audience: Audience | None = None
) -> list[Event]:
    """`emit` for many events of one type (e.g. a batch of transfers), in the caller's
    transaction: one query for the subscriptions and one insert each for events and
    deliveries, whatever the count."""
    if event_type not in EVENT_SPECS:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit_many must run inside the change's transaction.")
    return _write(event_type, [(payload, audience) for payload in payloads])


def _emit(event_type: str, payload: dict[str, Any], audience: Audience | None) -> Event | None:
    written = _write(event_type, [(payload, audience)])
    return written[0] if written else None


# The events `emit` collects inside `deferred()`, and the memo its audiences may share.
_deferring = threading.local()


@contextmanager
def deferred() -> Iterator[None]:
    """Inside the block, `emit` in the caller's transaction only collects its events; when the
    block ends they are written together, still in that transaction: per event type one query
    for the subscriptions, each user's answer asked once per audience, one insert for the
    events and one for the deliveries. For bulk paths whose rows each emit (a committed round's
    requests moving status one transition at a time). A nested block writes at the outermost
    one's end; an exception discards what was collected, as its transaction rolls back."""
    if getattr(_deferring, "entries", None) is not None:
        yield
        return
    _deferring.entries = []
    _deferring.memo = {}
    try:
        yield
        entries: list[tuple[str, dict[str, Any], Audience | None]] = _deferring.entries
    finally:
        _deferring.entries = None
        _deferring.memo = None
    by_type: dict[str, list[tuple[dict[str, Any], Audience | None]]] = {}
    for event_type, payload, audience in entries:
        by_type.setdefault(event_type, []).append((payload, audience))
    for event_type, items in by_type.items():
        _write(event_type, items)


def deferred_memo() -> dict[Any, Any] | None:
    """A dict that lives as long as the current `deferred()` block (None outside one): where
    audiences keep answers that hold for every event of the block (e.g. "this user may see the
    requests of this service type")."""
    return cast(dict[Any, Any] | None, getattr(_deferring, "memo", None))


def _write(event_type: str, items: list[tuple[dict[str, Any], Audience | None]]) -> list[Event]:
    spec = EVENT_SPECS[event_type]
    if not items or not wanted(event_type):
        return []
    candidates = [
        s
        for s in Subscription.objects.filter(active=True, client__active=True).select_related(
            "client__application__user"
        )
        if event_type in s.event_types
    ]
    # Each audience's answers per acting user, kept across the subscriptions and the events
    # that share it (one audience for a whole `emit_many`).
    seen: dict[int, dict[int, bool]] = {}
    addressed = [
        (payload, [s for s in candidates if may_receive(s, spec, a, seen.setdefault(id(a), {}))])
        for payload, a in items
    ]
    addressed = [(payload, receivers) for payload, receivers in addressed if receivers]
    if not addressed:
        return []
    now = timezone.now()
    events = Event.objects.bulk_create(
        [Event(type=event_type, payload=payload, created_at=now) for payload, _ in addressed]
    )
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                event=event,
                subscription=s,
                next_attempt_at=now,
                give_up_at=now + conf.retry_window(),
                created_at=now,
            )
            for event, (_, receivers) in zip(events, addressed, strict=True)
            for s in receivers
        ]
    )
    batches = delivery_batches((d.subscription_id, d.pk) for d in deliveries)
    transaction.on_commit(lambda: enqueue_batches(batches))
    return events


def delivery_batches(deliveries: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Split (subscription id, delivery id) pairs into the batches one task sends: the
    deliveries of one subscription, in the order given, up to `HMS_WEBHOOK_BATCH_SIZE` each."""
    size = conf.batch_size()
    by_subscription: dict[int, list[int]] = {}
    for subscription_id, delivery_id in deliveries:
        by_subscription.setdefault(subscription_id, []).append(delivery_id)
    return [
        ids[start : start + size]
        for ids in by_subscription.values()
        for start in range(0, len(ids), size)
    ]


def enqueue_each(delivery_ids: list[int], *, countdown: float | None = None) -> int:
    """Hand deliveries to Celery one task each (a retry at its own time, the few deliveries a
    batch cut short handed back): no query. Returns how many the broker took."""
    return enqueue_batches([[pk] for pk in delivery_ids], countdown=countdown)


def enqueue_batches(batches: list[list[int]], *, countdown: float | None = None) -> int:
    """Publish `deliver_webhook(first, rest)` per batch; stop at the first refusal of the
    broker (the outbox keeps the rest). Returns how many deliveries the broker took."""
    from .tasks import deliver_webhook

    sent = 0
    for batch in batches:
        first, *rest = batch
        try:
            deliver_webhook.apply_async((first, rest) if rest else (first,), countdown=countdown)
        except Exception:  # the broker is down: the outbox keeps the deliveries
            logger.warning(
                "Broker unreachable; %d webhook deliveries left in the outbox",
                sum(len(b) for b in batches) - sent,
            )
            break
        sent += len(batch)
    return sent
