"""The civilian's email outbox: handed over without the broker, sent at least once with a
`Message-ID` that a resend repeats, drained by the worker's drainer."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection

from core import outbox
from hms_portal.outbox import Drainer
from service_requests import services
from service_requests.models import NotifyState, RequestEvent
from tests.builders import submitted

pytestmark = pytest.mark.django_db


def _pending_event(civilian, inspection) -> RequestEvent:  # type: ignore[no-untyped-def]
    submitted(civilian, inspection)
    event = RequestEvent.objects.get()
    assert event.notify == NotifyState.PENDING
    return event


def test_a_resent_email_carries_the_same_message_id(civilian, inspection):
    """A worker killed between the send and the commit leaves the row pending: the next
    sender sends it again, and the receiver can tell it is the same message."""
    event = _pending_event(civilian, inspection)
    assert services.event_email_send(actor=None, event_id=event.pk) == "sent"
    RequestEvent.objects.filter(pk=event.pk).update(notify=NotifyState.PENDING)
    assert services.event_email_send(actor=None, event_id=event.pk) == "sent"
    first, second = mail.outbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]
    assert first.extra_headers["Message-ID"].startswith(f"<hms.event.{event.pk}.")
    assert first.message()["Message-ID"] == first.extra_headers["Message-ID"]
    assert services.event_email_send(actor=None, event_id=event.pk) == "skipped"


def test_each_event_has_its_own_message_id(civilian, inspection):
    submitted(civilian, inspection)
    submitted(civilian, inspection)
    for event in RequestEvent.objects.all():
        services.event_email_send(actor=None, event_id=event.pk)
    ids = {message.extra_headers["Message-ID"] for message in mail.outbox}
    assert len(ids) == 2


def test_the_drainer_sweeps_what_was_left_pending(civilian, inspection):
    event = _pending_event(civilian, inspection)
    Drainer(sweep_seconds=1).drain({"event-email": None, "draft-link": None})
    assert len(mail.outbox) == 1
    assert RequestEvent.objects.get(pk=event.pk).notify == NotifyState.SENT
    Drainer(sweep_seconds=1).drain({"event-email": [event.pk]})
    assert len(mail.outbox) == 1


def test_in_process_the_email_is_sent_on_commit(
    civilian, inspection, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submitted(civilian, inspection)
    assert len(mail.outbox) == 1
    assert RequestEvent.objects.get().notify == NotifyState.SENT


def test_with_a_worker_the_request_notifies_instead_of_publishing(
    civilian, inspection, monkeypatch, django_capture_on_commit_callbacks
):
    if connection.vendor != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    from celery import current_app

    current_app.conf.task_always_eager = False
    statements: list[str] = []

    def published(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request published to the broker")

    monkeypatch.setattr(services.common, "enqueue_notification", published)
    try:
        with (
            connection.execute_wrapper(lambda run, sql, *a: statements.append(sql) or run(sql, *a)),
            django_capture_on_commit_callbacks(execute=True),
        ):
            submitted(civilian, inspection)
    finally:
        current_app.conf.task_always_eager = True
    event = RequestEvent.objects.get()
    assert any("pg_notify" in sql for sql in statements)
    assert event.notify == NotifyState.PENDING


def test_a_note_names_its_ids_or_only_its_kind_when_too_long():
    assert outbox.parse(outbox.note("event-email", [1, 2])) == ("event-email", [1, 2])
    assert outbox.parse(outbox.note("webhooks", [[1, 2], [3]])) == ("webhooks", [[1, 2], [3]])
    assert outbox.parse(outbox.note("event-email", list(range(5000)))) == ("event-email", None)
    assert outbox.parse("event-email:not json") == ("event-email", None)
