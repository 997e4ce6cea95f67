"""Celery tasks: webhook deliveries from the outbox, and the beat task that re-enqueues the
ones the broker never took."""

from __future__ import annotations

from celery import shared_task

from .outbox import delivery_batches, enqueue_batches
from .selectors import deliveries_due
from .services.deliveries import delivery_attempt


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int, batch: list[int] | None = None) -> str:
    """Send a delivery and the rest of its batch (the other deliveries of its subscription
    enqueued with it) if they are due (idempotent: a delivered or leased one is skipped).
    Messages naming one delivery, without a batch, are sent the same way."""
    return delivery_attempt(delivery_id=delivery_id, batch=batch or ())


@shared_task(ignore_result=True)
def flush_webhook_outbox() -> int:
    """Re-enqueue pending deliveries overdue by the grace period (the broker was down when
    they were written, or their worker died mid-send). Run by beat every minute."""
    return enqueue_batches(delivery_batches(deliveries_due()))


@shared_task(ignore_result=True)
def clear_expired_tokens() -> None:
    """Delete expired OAuth tokens (django-oauth-toolkit's `cleartokens`). Run by beat daily."""
    from oauth2_provider.models import clear_expired

    clear_expired()
