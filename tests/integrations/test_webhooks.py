"""Webhooks to a local receiver: signed deliveries that verify (and a tampered body that does
not), retries after a 500 with backoff, every attempt logged, nothing lost with the broker
down, replay from the admin, and only the clients that may see an event are told of it."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations import services, signing, tasks
from integrations.models import Delivery, DeliveryStatus, Event, Subscription
from integrations.services import webhooks
from service_requests import services as request_services
from tests.builders import submitted
from tests.integrations.conftest import bearer

pytestmark = pytest.mark.django_db

REQUEST_EVENTS = ["request.submitted", "request.status_changed"]


def _subscribe(client, receiver, event_types=REQUEST_EVENTS) -> Subscription:  # type: ignore[no-untyped-def]
    api = bearer(client)
    response = api.post(
        "/api/v1/webhooks/subscriptions/",
        {"event_types": event_types, "target_url": receiver.url},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"sub-{receiver.url}-{client.client_id}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["secret"].startswith("whsec_")
    return Subscription.objects.get(pk=response.json()["id"])


def _due_now(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_submission_is_delivered_signed_and_verifiable(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    subscription = _subscribe(reviewer_client, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        request = submitted(civilian, inspection)
    assert len(receiver.received) == 1
    got = receiver.received[0]
    headers = got["headers"]
    body = json.loads(got["body"])
    assert body["type"] == "request.submitted"
    assert body["data"]["tracking_number"] == request.tracking_number
    assert headers[signing.EVENT_ID_HEADER] == body["id"]
    assert headers[signing.EVENT_TYPE_HEADER] == "request.submitted"
    # No personal data in events.
    assert civilian.email not in got["body"].decode()
    assert signing.verify(subscription.secret, headers[signing.SIGNATURE_HEADER], got["body"])
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempt_log.get().status_code == 200


def test_a_tampered_body_an_old_timestamp_or_another_secret_fail_verification(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    subscription = _subscribe(reviewer_client, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    got = receiver.received[0]
    header = got["headers"][signing.SIGNATURE_HEADER]
    tampered = got["body"].replace(b"request.submitted", b"request.fulfilled")
    assert not signing.verify(subscription.secret, header, tampered)
    assert not signing.verify("whsec_other", header, got["body"])
    assert not signing.verify(
        subscription.secret, header, got["body"], now=time.time() + signing.TOLERANCE + 5
    )
    assert not signing.verify(subscription.secret, "v1=abc", got["body"])


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"id":"1"}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature_header("k", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_a_500_is_retried_with_backoff_and_every_attempt_is_logged(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    _subscribe(reviewer_client, receiver)
    receiver.answers = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=20) < wait < timedelta(seconds=40)
    # Not due yet: a second message for it changes nothing.
    assert tasks.deliver_webhook(delivery.pk) == "skipped"
    _due_now(delivery)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.deliver_webhook(delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert timedelta(seconds=50) < delivery.next_attempt_at - timezone.now() < timedelta(seconds=70)
    _due_now(delivery)
    assert tasks.deliver_webhook(delivery.pk) == "delivered"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 200]
    # Three tries, one event id: the receiver can drop duplicates.
    ids = {r["headers"][signing.EVENT_ID_HEADER] for r in receiver.received}
    assert len(receiver.received) == 3
    assert len(ids) == 1


def test_a_delivery_is_given_up_after_the_retry_window(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    _subscribe(reviewer_client, receiver)
    receiver.answers = [500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        give_up_at=timezone.now(), next_attempt_at=timezone.now()
    )
    assert tasks.deliver_webhook(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 2


def test_an_unreachable_receiver_is_retried(
    reviewer_client, civilian, inspection, django_capture_on_commit_callbacks
):
    client = reviewer_client
    api = bearer(client)
    api.post(
        "/api/v1/webhooks/subscriptions/",
        {"event_types": ["request.submitted"], "target_url": "http://127.0.0.1:9/closed"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="s",
    )
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_status_code is None
    assert delivery.attempt_log.get().error


def test_nothing_is_lost_while_the_broker_is_down(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    _subscribe(reviewer_client, receiver)
    down = mock.patch.object(
        tasks.deliver_webhook, "apply_async", side_effect=ConnectionError("broker down")
    )
    with down, django_capture_on_commit_callbacks(execute=True):
        request = submitted(civilian, inspection)
    # The request was accepted; its delivery waits in the outbox.
    assert request.pk is not None
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert receiver.received == []
    # Too fresh for beat to touch (it may still be on its way).
    assert tasks.flush_webhook_outbox() == 0
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    assert tasks.flush_webhook_outbox() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 1
    # Once delivered, beat leaves it alone.
    assert tasks.flush_webhook_outbox() == 0


def test_a_leased_delivery_is_not_sent_twice(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    """A worker killed mid-send holds the lease until it expires; until then nobody else sends;
    after it, beat re-enqueues and the receiver gets the same event id again."""
    _subscribe(reviewer_client, receiver)
    down = mock.patch.object(tasks.deliver_webhook, "apply_async", side_effect=ConnectionError)
    with down, django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    past = timezone.now() - timedelta(minutes=2)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=past, lease_until=timezone.now() + timedelta(seconds=30), attempts=1
    )
    assert tasks.flush_webhook_outbox() == 0
    assert tasks.deliver_webhook(delivery.pk) == "skipped"
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=past)
    assert tasks.flush_webhook_outbox() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert receiver.received[0]["headers"][signing.ATTEMPT_HEADER] == "2"


def test_a_status_change_is_an_event_with_both_statuses(
    reviewer_client, reviewer, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    _subscribe(reviewer_client, receiver, ["request.status_changed"])
    request = submitted(civilian, inspection)
    with django_capture_on_commit_callbacks(execute=True):
        request_services.request_start_review(actor=reviewer, request_id=request.pk)
    (body,) = receiver.bodies()
    assert body["type"] == "request.status_changed"
    assert body["data"]["previous_status"] == "submitted"
    assert body["data"]["status"] == "in_review"


def test_a_rolled_back_change_emits_nothing(reviewer_client, receiver, civilian, inspection):
    from django.db import transaction

    _subscribe(reviewer_client, receiver)

    def fails_after_the_event() -> None:
        with transaction.atomic():
            submitted(civilian, inspection)
            raise RuntimeError("the change fails after the event")

    with pytest.raises(RuntimeError):
        fails_after_the_event()
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()


def test_only_clients_that_may_see_the_request_are_told(
    make_client,
    reviewer,
    outsider_reviewer,
    civilian,
    other_civilian,
    inspection,
    receiver,
    django_capture_on_commit_callbacks,
):
    housing = make_client(reviewer)
    business = make_client(outsider_reviewer)
    own_app = make_client(civilian)
    other_app = make_client(other_civilian)
    no_scope = make_client(reviewer, "webhooks:manage requests:read")
    for client in (housing, business, own_app, other_app, no_scope):
        _subscribe(client, receiver, ["request.submitted"])
    # A client that loses requests:read after subscribing is no longer told.
    type(no_scope.api_client).objects.filter(pk=no_scope.api_client.pk).update(
        scopes="webhooks:manage"
    )
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    told = set(Delivery.objects.values_list("subscription__client", flat=True))
    assert told == {housing.api_client.pk, own_app.api_client.pk}


def test_subscribing_needs_the_events_read_scope_and_an_https_url(make_client, reviewer, settings):
    api = bearer(make_client(reviewer, "webhooks:manage requests:read"))
    url = "/api/v1/webhooks/subscriptions/"
    no_scope = api.post(
        url,
        {"event_types": ["transfer.posted"], "target_url": "https://example.test/h"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="a",
    )
    assert no_scope.status_code == 422
    assert no_scope.json()["error"]["code"] == "scope_missing"
    settings.HMS_WEBHOOK_ALLOW_HTTP = False
    plain = api.post(
        url,
        {"event_types": ["request.submitted"], "target_url": "http://example.test/h"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="b",
    )
    assert plain.status_code == 422
    assert "target_url" in plain.json()["error"]["fields"]
    unknown = api.post(
        url,
        {"event_types": ["request.lost"], "target_url": "https://example.test/h"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="c",
    )
    assert unknown.status_code == 400


def test_a_client_manages_only_its_own_subscriptions(make_client, reviewer, receiver):
    mine = make_client(reviewer)
    theirs = make_client(reviewer)
    own = _subscribe(mine, receiver)
    other = _subscribe(theirs, receiver)
    api = bearer(mine)
    listed = api.get("/api/v1/webhooks/subscriptions/").json()["results"]
    assert [s["id"] for s in listed] == [own.pk]
    assert "secret" not in listed[0]
    assert api.get(f"/api/v1/webhooks/subscriptions/{other.pk}/").status_code == 404
    assert api.delete(f"/api/v1/webhooks/subscriptions/{other.pk}/").status_code == 404
    changed = api.patch(
        f"/api/v1/webhooks/subscriptions/{own.pk}/",
        {"event_types": ["request.submitted"]},
        format="json",
    )
    assert changed.json()["event_types"] == ["request.submitted"]
    assert api.delete(f"/api/v1/webhooks/subscriptions/{own.pk}/").status_code == 204
    own.refresh_from_db()
    assert own.active is False
    assert api.get("/api/v1/webhooks/deliveries/").status_code == 200


def test_people_have_no_subscriptions(reviewer):
    from rest_framework.test import APIClient

    person = APIClient()
    person.force_login(reviewer)
    response = person.get("/api/v1/webhooks/subscriptions/")
    assert response.status_code == 403


def test_a_subscription_retry_returns_the_first_and_a_different_one_conflicts(
    reviewer_client, receiver
):
    api = bearer(reviewer_client)
    url = "/api/v1/webhooks/subscriptions/"
    payload = {"event_types": ["request.submitted"], "target_url": receiver.url}
    first = api.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="one")
    again = api.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY="one")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = api.post(
        url,
        {**payload, "target_url": receiver.url + "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="one",
    )
    assert other.status_code == 409


def test_staff_replay_a_delivery_from_the_admin(
    reviewer_client, receiver, civilian, inspection, client, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    _subscribe(reviewer_client, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    changelist = reverse("admin:integrations_delivery_changelist")
    assert client.get(changelist).status_code == 200
    assert (
        client.get(reverse("admin:integrations_delivery_change", args=[delivery.pk])).status_code
        == 200
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {"action": "replay", "_selected_action": [delivery.pk]})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.replayed_by == admin_user
    assert delivery.attempt_log.count() == 2
    assert len({r["headers"][signing.EVENT_ID_HEADER] for r in receiver.received}) == 1


def test_staff_without_the_right_cannot_replay(reviewer, client, receiver, reviewer_client):
    client.force_login(reviewer)
    response = client.get(reverse("admin:integrations_delivery_changelist"))
    assert response.status_code == 403


def test_emit_refuses_to_run_outside_a_transaction_when_asked_to_join_one(transactional_db):
    with pytest.raises(RuntimeError):
        webhooks.emit("transfer.posted", {"sequence": 1})
    assert webhooks.emit("transfer.posted", {"sequence": 1}, using_transaction=False) is None


def test_emit_uses_the_event_types_permission_when_no_audience_is_given(
    make_client, finance_officer, reviewer, receiver, django_capture_on_commit_callbacks
):
    finance = make_client(finance_officer)
    staff = make_client(reviewer)
    for client in (finance, staff):
        Subscription.objects.create(
            client=client.api_client, event_types=["transfer.posted"], target_url=receiver.url
        )
    with django_capture_on_commit_callbacks(execute=True):
        event = webhooks.emit("transfer.posted", {"sequence": 7, "amount_minor": 100})
    assert event is not None
    assert list(Delivery.objects.values_list("subscription__client", flat=True)) == [
        finance.api_client.pk
    ]
    assert receiver.bodies()[0]["data"] == {"sequence": 7, "amount_minor": 100}


def test_backoff_doubles_up_to_its_cap():
    waits = [services.backoff(n).total_seconds() for n in (1, 2, 3, 12)]
    assert 27 <= waits[0] <= 33
    assert 54 <= waits[1] <= 66
    assert 108 <= waits[2] <= 132
    assert 6480 <= waits[3] <= 7920


def test_the_receiver_code_in_the_docs_verifies_a_real_delivery(
    reviewer_client, receiver, civilian, inspection, django_capture_on_commit_callbacks
):
    from pathlib import Path

    from django.conf import settings

    text = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    (block,) = [b for b in text.split("```python\n")[1:] if "def verify" in b]
    namespace: dict[str, object] = {}
    exec(block.split("```")[0], namespace)
    verify = namespace["verify"]
    subscription = _subscribe(reviewer_client, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    got = receiver.received[0]
    header = got["headers"][signing.SIGNATURE_HEADER]
    assert verify(subscription.secret, header, got["body"])  # type: ignore[operator]
    assert not verify(subscription.secret, header, got["body"] + b" ")  # type: ignore[operator]


def test_deferred_emits_are_written_at_the_outer_blocks_end_and_dropped_on_error(
    make_client, finance_officer
):
    finance = make_client(finance_officer)
    Subscription.objects.create(
        client=finance.api_client,
        event_types=["transfer.posted"],
        target_url="https://receiver.example/hook",
    )
    with webhooks.deferred():
        assert webhooks.emit("transfer.posted", {"sequence": 1}) is None
        with webhooks.deferred():
            webhooks.emit("transfer.posted", {"sequence": 2})
        # The inner block's end writes nothing: the outer one writes both.
        assert not Event.objects.exists()
    assert sorted(e.payload["sequence"] for e in Event.objects.all()) == [1, 2]
    assert Delivery.objects.count() == 2

    def emit_then_fail() -> None:
        with webhooks.deferred():
            webhooks.emit("transfer.posted", {"sequence": 3})
            raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        emit_then_fail()
    assert Event.objects.count() == 2
    # Nothing is left collecting after the error: the next emit is written at once.
    assert webhooks.emit("transfer.posted", {"sequence": 4}) is not None
    assert Event.objects.count() == 3
