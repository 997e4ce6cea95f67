"""Writing webhook events: the outbox rows, in the transaction of the change itself.

    from integrations.services.webhooks import emit
    emit("transfer.posted", {"sequence": 42, ...})            # inside the service's atomic block

`emit` writes one `Event` and one `Delivery` per subscription that may receive it
(`integrations.outbox.may_receive`), in the caller's transaction: if the change rolls back, so
does the event; if it commits, the deliveries are handed to Celery on commit. Nothing is
written when no subscription wants the event.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from core.outbox import hand_over
from integrations import conf
from integrations.models import Delivery, Event, Subscription
from integrations.outbox import (
    EVENT_SPECS,
    OUTBOX_WEBHOOKS,
    Audience,
    delivery_batches,
    enqueue_batches,
    may_receive,
    wanted,
)


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
    hand_over(OUTBOX_WEBHOOKS, batches, lambda: enqueue_batches(batches))
    return events
