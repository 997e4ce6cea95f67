"""Reads of the webhook outbox for the tasks and the services."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from . import conf
from .models import Delivery, DeliveryStatus


def lease_free(now: datetime) -> Q:
    """Deliveries nobody holds a live lease on at `now`."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def deliveries_due(*, limit: int = 1000) -> list[tuple[int, int]]:
    """(subscription id, delivery id) of the pending deliveries due for longer than the grace
    period with no live lease: the ones the broker never took (it was down) or whose worker
    died."""
    now = timezone.now()
    return list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lt=now - conf.outbox_grace()
        )
        .filter(lease_free(now))
        .order_by("next_attempt_at")
        .values_list("subscription_id", "pk")[:limit]
    )
