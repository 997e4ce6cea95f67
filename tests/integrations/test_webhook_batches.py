"""Deliveries sent in batches: a task sends the due deliveries of its subscription over one
connection, one that finds its own delivery done still drains the rest, a failed answer stops
the batch and hands the unsent deliveries back, and nothing is sent twice."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import transaction

from integrations import signing, tasks
from integrations.models import Delivery, DeliveryStatus, Subscription
from integrations.services import webhooks

pytestmark = pytest.mark.django_db


def _pending(client: Any, receiver: Any, count: int) -> list[Delivery]:
    """`count` deliveries for one subscription, written but not handed to the broker."""
    Subscription.objects.create(
        client=client.api_client, event_types=["request.submitted"], target_url=receiver.url
    )
    with (
        mock.patch.object(tasks.deliver_webhook, "apply_async"),
        transaction.atomic(),
    ):
        webhooks.emit_many("request.submitted", [{"n": n} for n in range(count)])
    return list(Delivery.objects.order_by("pk"))


def test_one_task_sends_every_due_delivery_of_its_subscription(make_client, reviewer, receiver):
    deliveries = _pending(make_client(reviewer), receiver, 3)
    assert tasks.deliver_webhook(deliveries[0].pk) == "delivered"
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert sorted(int(r["headers"][signing.DELIVERY_HEADER]) for r in receiver.received) == [
        d.pk for d in deliveries
    ]
    assert [d.attempts for d in Delivery.objects.all()] == [1, 1, 1]
    # The tasks of the other two find them sent: nothing goes out twice.
    assert tasks.deliver_webhook(deliveries[1].pk) == "skipped"
    assert tasks.deliver_webhook(deliveries[2].pk) == "skipped"
    assert len(receiver.received) == 3


def test_a_task_whose_delivery_is_done_drains_the_others(make_client, reviewer, receiver, settings):
    settings.HMS_WEBHOOK_BATCH_SIZE = 1
    first, second, third = _pending(make_client(reviewer), receiver, 3)
    assert tasks.deliver_webhook(first.pk) == "delivered"
    assert Delivery.objects.get(pk=second.pk).status == DeliveryStatus.PENDING
    assert tasks.deliver_webhook(first.pk) == "skipped"
    assert Delivery.objects.get(pk=second.pk).status == DeliveryStatus.DELIVERED
    assert Delivery.objects.get(pk=third.pk).status == DeliveryStatus.PENDING
    assert len(receiver.received) == 2


def test_a_failed_answer_stops_the_batch_and_hands_the_rest_back(
    make_client, reviewer, receiver, django_capture_on_commit_callbacks
):
    first, second, third = _pending(make_client(reviewer), receiver, 3)
    receiver.answers = [500]
    with (
        mock.patch.object(tasks.deliver_webhook, "apply_async") as enqueued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert tasks.deliver_webhook(first.pk) == "retry"
    assert len(receiver.received) == 1
    failed = Delivery.objects.get(pk=first.pk)
    assert (failed.status, failed.attempts, failed.last_status_code) == ("pending", 1, 500)
    for pk in (second.pk, third.pk):
        released = Delivery.objects.get(pk=pk)
        assert (released.status, released.attempts, released.lease_until) == ("pending", 0, None)
        assert released.attempt_log.count() == 0
    # The failed delivery's retry is a task of its own; the two released ones go back as one
    # batch (one task), not one task each.
    tasks_sent = [c.args[0] for c in enqueued.call_args_list]
    assert sorted(tasks_sent) == sorted([(first.pk,), (second.pk, [third.pk])])
