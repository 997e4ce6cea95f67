"""Deliveries handed to the broker in batches: one task per batch of one subscription's
deliveries, none lost while the broker is down, none sent twice, oldest first."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from integrations import signing, tasks
from integrations.models import Delivery, DeliveryStatus, Subscription
from integrations.services import webhooks

pytestmark = pytest.mark.django_db


def _subscribe(client: Any, receiver: Any) -> Subscription:
    return Subscription.objects.create(
        client=client.api_client, event_types=["request.submitted"], target_url=receiver.url
    )


def _publishes() -> Any:
    """Count the task's publishes while letting each one through (run eagerly in tests)."""
    return mock.patch.object(
        tasks.deliver_webhook, "apply_async", wraps=tasks.deliver_webhook.apply_async
    )


def _sent_ids(receiver: Any) -> list[int]:
    return [int(r["headers"][signing.DELIVERY_HEADER]) for r in receiver.received]


def test_emitting_120_events_to_one_subscription_publishes_one_task_per_50(
    make_client, reviewer, receiver, django_capture_on_commit_callbacks
):
    _subscribe(make_client(reviewer), receiver)
    with (
        _publishes() as published,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        webhooks.emit_many("request.submitted", [{"n": n} for n in range(120)])
    assert published.call_count == math.ceil(120 / 50) == 3
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    assert [c.args[0] for c in published.call_args_list] == [
        (ids[0], ids[1:50]),
        (ids[50], ids[51:100]),
        (ids[100], ids[101:120]),
    ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert _sent_ids(receiver) == ids  # each once, oldest first
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_batches_follow_the_setting_and_never_mix_subscriptions(
    make_client, reviewer, supervisor, receiver, settings, django_capture_on_commit_callbacks
):
    settings.HMS_WEBHOOK_BATCH_SIZE = 4
    one = _subscribe(make_client(reviewer), receiver)
    other = _subscribe(make_client(reviewer, name="other"), receiver)
    with (
        _publishes() as published,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        webhooks.emit_many("request.submitted", [{"n": n} for n in range(6)])
    assert published.call_count == 2 * math.ceil(6 / 4)
    subscription_of = dict(Delivery.objects.values_list("pk", "subscription_id"))
    for call in published.call_args_list:
        first, *rest = call.args[0]
        batch = [first, *(rest[0] if rest else [])]
        assert len(batch) <= 4
        assert {subscription_of[pk] for pk in batch} in ({one.pk}, {other.pk})
    assert sorted(_sent_ids(receiver)) == sorted(subscription_of)


def test_with_the_broker_down_the_outbox_keeps_every_batch_and_beat_sends_them_once(
    make_client, reviewer, receiver, django_capture_on_commit_callbacks
):
    _subscribe(make_client(reviewer), receiver)
    down = mock.patch.object(
        tasks.deliver_webhook, "apply_async", side_effect=ConnectionError("broker down")
    )
    with down as refused, django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        webhooks.emit_many("request.submitted", [{"n": n} for n in range(120)])
    assert refused.call_count == 1  # the first refusal stops the hand-over
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 120
    assert receiver.received == []
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    with _publishes() as published:
        assert tasks.flush_webhook_outbox() == 120
    assert published.call_count == 3
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 120
    assert sorted(_sent_ids(receiver)) == sorted(Delivery.objects.values_list("pk", flat=True))
    assert tasks.flush_webhook_outbox() == 0


def test_a_batch_skips_its_deliveries_another_worker_holds(make_client, reviewer, receiver):
    _subscribe(make_client(reviewer), receiver)
    with mock.patch.object(tasks.deliver_webhook, "apply_async"), transaction.atomic():
        webhooks.emit_many("request.submitted", [{"n": n} for n in range(3)])
    first, held, last = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=held.pk).update(
        lease_until=timezone.now() + timedelta(seconds=30), attempts=1
    )
    assert tasks.deliver_webhook(first.pk, [held.pk, last.pk]) == "delivered"
    assert _sent_ids(receiver) == [first.pk, last.pk]
    held.refresh_from_db()
    assert (held.status, held.attempts) == (DeliveryStatus.PENDING, 1)


def test_a_batch_whose_first_delivery_is_done_still_sends_the_rest(make_client, reviewer, receiver):
    _subscribe(make_client(reviewer), receiver)
    with mock.patch.object(tasks.deliver_webhook, "apply_async"), transaction.atomic():
        webhooks.emit_many("request.submitted", [{"n": n} for n in range(3)])
    first, second, third = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.DELIVERED)
    assert tasks.deliver_webhook(first.pk, [second.pk, third.pk]) == "skipped"
    assert _sent_ids(receiver) == [second.pk, third.pk]
