"""Request transitions through the services: who may, in which state, and what is recorded."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from service_requests import services
from service_requests.models import ServiceRequest
from tests.builders import pending_approval, status_of, submitted


def test_tracking_number_is_the_year_and_the_request_id(civilian, rent_help):
    first = submitted(civilian, rent_help, amount_minor=1_000)
    second = submitted(civilian, rent_help, amount_minor=1_000)
    year = timezone.localdate().year
    assert first.tracking_number == f"HMS-{year}-{first.pk:06d}"
    assert second.tracking_number == f"HMS-{year}-{second.pk:06d}"
    assert second.pk > first.pk
    assert ServiceRequest.objects.get(tracking_number=second.tracking_number) == second


def test_reviewer_steps_are_recorded_with_the_reviewer(civilian, reviewer, inspection):
    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which unit?")
    history = ServiceRequest.objects.get(pk=request.pk).history.order_by("history_id")
    assert [(h.status, h.history_user) for h in history] == [
        ("submitted", civilian),
        ("in_review", reviewer),
        ("info_requested", reviewer),
    ]
    assert ServiceRequest.objects.get(pk=request.pk).assignee == reviewer


def test_stale_step_on_a_request_that_moved_on_is_refused_and_records_nothing(
    civilian, reviewer, rent_help
):
    request, _ = pending_approval(civilian, reviewer, rent_help, amount_minor=5_000)
    rows = request.history.count()
    with pytest.raises(
        services.RequestError, match="is now “Awaiting approval”, so it cannot be reviewed"
    ):
        services.request_start_review(actor=reviewer, request_id=request.pk)
    with pytest.raises(services.RequestError, match="cannot be recommended"):
        services.request_recommend(
            actor=reviewer, request_id=request.pk, note="Meets the criteria."
        )
    assert request.history.count() == rows
    assert status_of(request) == "pending_approval"


def test_reviewer_of_another_program_may_not_act(civilian, outsider_reviewer, rent_help):
    request = submitted(civilian, rent_help, amount_minor=5_000)
    with pytest.raises(services.RequestError, match="You may not do that"):
        services.request_start_review(actor=outsider_reviewer, request_id=request.pk)
    with pytest.raises(services.RequestError, match="You may not do that"):
        services.request_assign(
            actor=outsider_reviewer, request_id=request.pk, assignee=outsider_reviewer
        )
    assert status_of(request) == "submitted"


def test_civilian_may_not_review_and_reviewer_may_not_answer_for_the_civilian(
    civilian, reviewer, inspection
):
    request = submitted(civilian, inspection)
    with pytest.raises(services.RequestError, match="You may not do that"):
        services.request_start_review(actor=civilian, request_id=request.pk)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    services.request_ask_info(actor=reviewer, request_id=request.pk, message="Which unit?")
    with pytest.raises(services.RequestError, match="You may not do that"):
        services.request_provide_info(actor=reviewer, request_id=request.pk, message="Unit 4")
    assert status_of(request) == "info_requested"


def test_ask_for_information_needs_a_message(civilian, reviewer, inspection):
    request = submitted(civilian, inspection)
    services.request_start_review(actor=reviewer, request_id=request.pk)
    with pytest.raises(services.RequestError, match="Write a message"):
        services.request_ask_info(actor=reviewer, request_id=request.pk, message="   ")
    assert status_of(request) == "in_review"


def test_notifications_are_enqueued_on_commit_only(
    civilian, rent_help, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submitted(civilian, rent_help, amount_minor=1_000)
    assert len(callbacks) == 1
    assert mail.outbox == []
    callbacks[0]()
    assert len(mail.outbox) == 1
    callbacks[0]()  # a second delivery of the same task sends nothing more
    assert len(mail.outbox) == 1


def test_a_broker_that_is_down_leaves_the_email_pending_and_the_request_filed(
    civilian, rent_help, django_capture_on_commit_callbacks, caplog
):
    from unittest import mock

    from service_requests.models import RequestEvent
    from service_requests.tasks import send_event_email

    down = mock.patch.object(send_event_email, "delay", side_effect=ConnectionError)
    with down as delay, django_capture_on_commit_callbacks(execute=True):
        filed = submitted(civilian, rent_help, amount_minor=1_000)
    event = RequestEvent.objects.get(request=filed)
    delay.assert_called_once_with(event.pk)
    assert event.notify == "pending"
    assert mail.outbox == []
    assert f"email for event {event.pk} left in the outbox" in caplog.text


def test_outbox_flush_sends_an_email_left_pending_once(civilian, rent_help):
    """The broker was down when the event was written: the beat task sends it later, once."""
    from datetime import timedelta

    from django.utils import timezone

    from service_requests.models import RequestEvent
    from service_requests.tasks import flush_notification_outbox

    submitted(civilian, rent_help, amount_minor=1_000)  # on_commit never runs in this test
    event = RequestEvent.objects.get()
    assert event.notify == "pending"
    RequestEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert flush_notification_outbox() == 1
    assert len(mail.outbox) == 1
    assert flush_notification_outbox() == 0
    assert len(mail.outbox) == 1
