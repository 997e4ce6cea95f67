"""The real stack: PostgreSQL, Redis as the broker and a real Celery worker.

These run on one xdist worker (group "celery") so no other test process consumes their tasks.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from service_requests.models import NotifyState, RequestEvent, ServiceRequest
from tests.builders import filing_form
from tests.conftest import use_broker, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.worker,
    pytest.mark.xdist_group("celery"),
    pytest.mark.django_db(transaction=True),
]


def _form(service_type) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return filing_form(
        service_type, description="The heating has not worked since October.", amount=""
    )


def test_worker_delivers_the_confirmation_email(client, civilian, inspection, celery_app):
    client.force_login(civilian)
    response = client.post("/requests/new/", _form(inspection))
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    event = RequestEvent.objects.get(request=request)
    assert wait_for(lambda: len(mail.outbox) == 1), "the worker sent no email"
    assert request.tracking_number in mail.outbox[0].subject
    assert mail.outbox[0].to == ["alice@example.test"]
    assert wait_for(lambda: RequestEvent.objects.get(pk=event.pk).notify == NotifyState.SENT)


def test_submission_is_accepted_with_the_broker_down_and_emailed_once(
    client, civilian, inspection, celery_app
):
    """The broker is unreachable when the civilian submits: the request publishes nothing, the
    worker's drainer hears of the outbox row at commit and sends the email once; the beat
    task's later sweeps find nothing left to send."""
    good_url = celery_app.conf.broker_url
    use_broker(celery_app, "redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        client.force_login(civilian)
        response = client.post("/requests/new/", _form(inspection))
    finally:
        use_broker(celery_app, good_url)
    assert response.status_code == 302
    request = ServiceRequest.objects.get()
    event = RequestEvent.objects.get(request=request)
    assert wait_for(lambda: RequestEvent.objects.get(pk=event.pk).notify == NotifyState.SENT)

    from service_requests.tasks import flush_notification_outbox

    RequestEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    flush_notification_outbox.delay()
    flush_notification_outbox.delay()  # beat firing twice must not send twice
    time.sleep(1.0)
    assert len(mail.outbox) == 1
    assert request.tracking_number in mail.outbox[0].subject


def test_a_staff_email_queued_while_the_broker_is_away_goes_once_it_is_back(
    django_user_model, celery_app
):
    """A governance email asked for while the broker is unreachable waits in the database;
    the worker's drainer publishes it once the broker answers, and the worker sends it once."""
    from core.models import QueuedTask
    from governance import emails

    person = django_user_model.objects.create_user("dana", "dana@example.test", "x")
    good_url = celery_app.conf.broker_url
    use_broker(celery_app, "redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        emails.send_later([person.pk], "Case 12 is due tomorrow", "Step one is due.")
    finally:
        use_broker(celery_app, good_url)
    assert wait_for(lambda: len(mail.outbox) == 1), "the queued email was never sent"
    assert mail.outbox[0].subject == "[HMS] Case 12 is due tomorrow"
    assert mail.outbox[0].to == ["dana@example.test"]
    assert wait_for(lambda: QueuedTask.objects.filter(published_at__isnull=False).count() == 1)
    time.sleep(1.0)
    assert len(mail.outbox) == 1
