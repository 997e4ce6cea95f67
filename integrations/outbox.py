"""The webhook outbox's rules: who may receive which event, which event types anyone takes, and
handing deliveries to Celery.

Events and their deliveries are written by `integrations.services.webhooks.emit`, in the
transaction of the change itself, and handed over with `core.outbox.hand_over` (kind
`OUTBOX_WEBHOOKS`, the batches as ids): on PostgreSQL the worker's drainer hears of them at
commit and publishes them to Celery here, one task per batch of one subscription's deliveries,
so no request publishes to the broker; in-process, they are published on commit. The drainer's
sweep and a beat task re-enqueue any the broker did not take.

Who may receive an event: a subscription whose client is active, holds the event type's read
scope, and acts for an active user who may see what the event is about (the event type's view
permission, or the narrower `audience` the emitter passes, e.g. "may see this request"). The
payload carries no civilian's personal data: receivers fetch details through the API, with the
scopes they hold.

The task that sends a batch is registered by `IntegrationsConfig.ready()` (`deliver_with`): the
task calls the services, and the services enqueue it, so neither imports the other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from . import conf
from .models import EventType, Subscription

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
# deleting a subscription or a client drops the entry, at once and again on commit
# (`integrations.services.subscriptions.forget_subscribed_types`); the timeout bounds what a
# change made around the signals (a raw `UPDATE`) could leave stale.
SUBSCRIBED_TYPES_CACHE_KEY = "integrations:subscribed-event-types:v1"
# The outbox kind of webhook deliveries, named to the worker's drainer (`core.outbox`).
OUTBOX_WEBHOOKS = "webhooks"
SUBSCRIBED_TYPES_TIMEOUT = 300
# Each process also keeps the set it last read for this many seconds, so that a burst of
# writes asks the shared cache once, not once per write: the ledger announces every transfer,
# and a Redis round trip per single transfer cost a quarter of the service's time
# (`bench_ledger`). A change of subscriptions reaches this process at once (the signals drop
# its copy too) and every other process within these seconds.
SUBSCRIBED_TYPES_LOCAL_SECONDS = 2.0
_local_types: tuple[float, frozenset[str]] | None = None


def subscribed_types() -> frozenset[str]:
    """The event types at least one active subscription of an active client takes: this
    process's copy while it is fresh, else the shared cache's, else from the database."""
    global _local_types
    local, now = _local_types, time.monotonic()
    if local is not None and local[0] > now:
        return local[1]
    cached = cache.get(SUBSCRIBED_TYPES_CACHE_KEY)
    if cached is not None:
        types = frozenset(cached)
    else:
        types = frozenset(
            event_type
            for listed in Subscription.objects.filter(active=True, client__active=True).values_list(
                "event_types", flat=True
            )
            for event_type in listed
        )
        cache.set(SUBSCRIBED_TYPES_CACHE_KEY, sorted(types), SUBSCRIBED_TYPES_TIMEOUT)
    _local_types = (now + SUBSCRIBED_TYPES_LOCAL_SECONDS, types)
    return types


def forget_local_subscribed_types() -> None:
    """Drop this process's copy of the subscribed types (the shared cache is left alone)."""
    global _local_types
    _local_types = None


def wanted(event_type: str) -> bool:
    """Whether any active subscription takes `event_type` (lets a receiver skip its work)."""
    return event_type in subscribed_types()


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


# The Celery task that sends one batch (`integrations.tasks.deliver_webhook`).
_deliver: Any = None


def deliver_with(task: Any) -> None:
    """Register the task `enqueue_batches` publishes (`IntegrationsConfig.ready()`)."""
    global _deliver
    _deliver = task


def enqueue_batches(batches: list[list[int]], *, countdown: float | None = None) -> int:
    """Publish `deliver_webhook(first, rest)` per batch; stop at the first refusal of the
    broker (the outbox keeps the rest). Returns how many deliveries the broker took."""
    if _deliver is None:
        raise RuntimeError("No webhook delivery task registered (IntegrationsConfig.ready()).")
    sent = 0
    for batch in batches:
        first, *rest = batch
        try:
            _deliver.apply_async((first, rest) if rest else (first,), countdown=countdown)
        except Exception:  # the broker is down: the outbox keeps the deliveries
            logger.warning(
                "Broker unreachable; %d webhook deliveries left in the outbox",
                sum(len(b) for b in batches) - sent,
            )
            break
        sent += len(batch)
    return sent
