"""Webhooks on the real stack: PostgreSQL, Redis as the broker, a real Celery worker and a
local receiver. With the broker unreachable the change is still accepted and its event waits
in the outbox; once the broker is back, beat's flush delivers it, once, even when beat fires
twice.

Runs on the xdist group "celery" with the other worker tests, so no other test process
consumes these tasks.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import signing, tasks
from integrations.models import Delivery, DeliveryStatus, Subscription
from tests.builders import submitted
from tests.conftest import use_broker, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.worker,
    pytest.mark.xdist_group("celery"),
    pytest.mark.django_db(transaction=True),
]


def test_the_worker_delivers_a_signed_event(
    make_client, reviewer, civilian, inspection, receiver, celery_app
):
    client = make_client(reviewer)
    subscription = Subscription.objects.create(
        client=client.api_client, event_types=["request.submitted"], target_url=receiver.url
    )
    submitted(civilian, inspection)
    assert wait_for(lambda: len(receiver.received) == 1), Delivery.objects.values().first()
    got = receiver.received[0]
    assert signing.verify(
        subscription.secret, got["headers"][signing.SIGNATURE_HEADER], got["body"]
    )
    assert wait_for(lambda: Delivery.objects.get().status == DeliveryStatus.DELIVERED)


def test_nothing_is_lost_with_the_broker_down_and_nothing_sent_twice(
    make_client, reviewer, civilian, inspection, receiver, celery_app
):
    client = make_client(reviewer)
    Subscription.objects.create(
        client=client.api_client, event_types=["request.submitted"], target_url=receiver.url
    )
    good_url = celery_app.conf.broker_url  # type: ignore[attr-defined]
    use_broker(celery_app, "redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        request = submitted(civilian, inspection)
    finally:
        use_broker(celery_app, good_url)
    assert request.pk is not None
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert receiver.received == []
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    tasks.flush_webhook_outbox.delay()
    tasks.flush_webhook_outbox.delay()  # beat firing twice must not deliver twice
    delivered = wait_for(lambda: Delivery.objects.get().status == DeliveryStatus.DELIVERED)
    assert delivered, Delivery.objects.values().get()
    tasks.flush_webhook_outbox.delay()
    time.sleep(1.0)
    assert len(receiver.received) == 1
