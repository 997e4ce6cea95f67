"""Queued tasks (`core.services.queue`): kept with the transaction that asks for them, published
once it commits, waiting in the database while the broker is away, never lost or run for a
rolled-back change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from core.models import QueuedTask
from core.services.queue import ERR_UNKNOWN_TASK, queued_tasks_publish, task_enqueue
from governance import emails
from tests.conftest import use_broker

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_member(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("casey", "casey@example.test", "x")


def test_a_staff_email_waits_for_the_commit_and_goes_once(
    staff_member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        emails.send_later([staff_member.pk, None, staff_member.pk], "Case 7", "Due soon.")
        assert mail.outbox == []  # nothing leaves inside the transaction
        row = QueuedTask.objects.get()
        assert (row.name, row.args) == (
            emails.NOTIFY_USERS_TASK,
            [[staff_member.pk], "Case 7", "Due soon."],
        )
    assert [m.to for m in mail.outbox] == [["casey@example.test"]]
    assert mail.outbox[0].subject == "[HMS] Case 7"
    row.refresh_from_db()
    assert row.published_at is not None
    assert (row.attempts, row.last_error) == (1, "")
    # A second publish of the same row (a sweep racing the commit) sends nothing more.
    assert queued_tasks_publish(ids=[row.pk]) == 0
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_queues_and_sends_nothing(
    staff_member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            emails.send_later([staff_member.pk], "Case 8", "Escalated.")
            raise RuntimeError("the change failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        change_that_fails()
    assert callbacks == []
    assert not QueuedTask.objects.exists()
    assert mail.outbox == []


def test_an_unknown_task_or_an_argument_the_broker_cannot_carry_is_refused() -> None:
    with pytest.raises(LookupError, match=ERR_UNKNOWN_TASK.format(name="no.such.task")):
        task_enqueue(name="no.such.task", args=[1])
    with pytest.raises(TypeError):
        task_enqueue(name=emails.NOTIFY_USERS_TASK, args=[object()])
    assert not QueuedTask.objects.exists()


def test_with_the_broker_away_rows_wait_with_the_error_and_go_when_it_is_back(
    staff_member: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from hms_portal.celery import app

    good_url, eager = app.conf.broker_url, app.conf.task_always_eager
    app.conf.task_always_eager = False
    use_broker(app, "redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        with django_capture_on_commit_callbacks(execute=True):
            emails.send_later([staff_member.pk], "First", "One.")
            emails.send_later([staff_member.pk], "Second", "Two.")
        assert queued_tasks_publish() == 0
        first, second = QueuedTask.objects.order_by("pk")
        assert first.published_at is None
        assert first.last_error
        # The batch stops at the first failed publish: the broker is away for all of them.
        assert second.published_at is None
        assert second.attempts < first.attempts
    finally:
        use_broker(app, good_url)
        app.conf.task_always_eager = eager
    assert queued_tasks_publish() == 2
    assert sorted(m.subject for m in mail.outbox) == ["[HMS] First", "[HMS] Second"]
    assert not QueuedTask.objects.filter(published_at__isnull=True).exists()
    assert QueuedTask.objects.get(pk=first.pk).last_error == ""
