"""Due times, the overdue flag and breaches: marked once by the beat task, emailed through the
outbox to the assignee and the program's supervisors, after the marking commits."""

from __future__ import annotations

from typing import Any

from django.core import mail

from oversight import selectors, services, tasks
from oversight.clocks import Clock
from oversight.models import Breach, Holiday, NotifyState, ServiceLevelTarget
from service_requests import services as requests
from tests.builders import submitted

from .conftest import ny, place


def _target(service_type: Any, first: int = 8, decision: int = 16) -> None:
    ServiceLevelTarget.objects.create(
        service_type=service_type, first_response_hours=first, decision_hours=decision
    )


def test_due_times_follow_the_calendar_and_a_holiday_added_later(
    inspection: Any, civilian: Any, actor: Any
) -> None:
    _target(inspection)
    request = submitted(civilian, inspection)
    place(request, ny(3, 2, 10))  # Monday 10:00
    levels = selectors.service_levels_by_id(request_ids=[request.pk], now=ny(3, 2, 12))
    clocks = levels[request.pk].clocks
    # 8 working hours: Monday 10-17 (7 h) and Tuesday 09:00-10:00.
    assert clocks[Clock.FIRST_RESPONSE].due_at == ny(3, 3, 10)
    assert clocks[Clock.DECISION].due_at is None  # not recommended yet
    # 30 working days of 8 h from Monday 10:00: six weeks on, Monday 13 April 10:00 (EDT).
    assert clocks[Clock.RESOLUTION].due_at == ny(4, 13, 10)
    assert not levels[request.pk].overdue
    services.holiday_save(actor=actor, holiday=Holiday(date=ny(3, 3, 0).date(), name="Storm"))
    later = selectors.service_levels_by_id(request_ids=[request.pk], now=ny(3, 2, 12))
    assert later[request.pk].clocks[Clock.FIRST_RESPONSE].due_at == ny(3, 4, 10)


def test_waiting_on_the_civilian_pauses_resolution_but_not_the_overdue_flag(
    inspection: Any, civilian: Any, reviewer: Any
) -> None:
    _target(inspection, first=1)
    request = submitted(civilian, inspection)
    requests.request_start_review(actor=reviewer, request_id=request.pk)
    requests.request_ask_info(actor=reviewer, request_id=request.pk, message="Which floor?")
    place(request, ny(3, 2, 9), ny(3, 2, 9, 30), ny(3, 2, 10))
    level = selectors.service_levels_by_id(request_ids=[request.pk], now=ny(3, 20, 12))[request.pk]
    resolution = level.clocks[Clock.RESOLUTION]
    assert resolution.elapsed_seconds == 3600  # 09:00-10:00, then paused
    assert resolution.due_at is None
    assert not level.overdue
    assert level.clocks[Clock.FIRST_RESPONSE].met is True


def test_the_beat_task_marks_each_breach_once_and_emails_after_commit(
    inspection: Any,
    civilian: Any,
    reviewer: Any,
    supervisor: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _target(inspection, first=8)
    request = submitted(civilian, inspection)
    requests.request_assign(actor=supervisor, request_id=request.pk, assignee=reviewer)
    place(request, ny(3, 2, 9), ny(3, 2, 9, 5))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        marked = services.breaches_mark(now=ny(3, 4, 9))
    assert marked == 1  # first response (16 h in, target 8 h); resolution not yet
    assert len(callbacks) == 1
    breach = Breach.objects.get()
    assert breach.clock == "first_response"
    assert breach.due_at == ny(3, 2, 17)
    assert breach.notify == NotifyState.SENT
    assert sorted(m.to[0] for m in mail.outbox) == sorted([reviewer.email, supervisor.email])
    assert request.tracking_number in mail.outbox[0].subject
    # Again, later: nothing new is marked or sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.breaches_mark(now=ny(3, 5, 9)) == 0
    assert Breach.objects.count() == 1
    assert len(mail.outbox) == 2
    assert services.breach_email_send(breach_id=breach.pk) == "skipped"
    assert len(mail.outbox) == 2


def test_no_email_leaves_inside_the_marking_transaction(
    inspection: Any, civilian: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _target(inspection, first=1)
    request = submitted(civilian, inspection)
    place(request, ny(3, 2, 9))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.breaches_mark(now=ny(3, 3, 9)) == 1
    assert mail.outbox == []
    assert Breach.objects.get().notify == NotifyState.PENDING
    for callback in callbacks:
        callback()
    assert Breach.objects.get().notify == NotifyState.SENT


def test_a_closed_request_is_never_marked(
    inspection: Any, civilian: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _target(inspection, first=1)
    request = submitted(civilian, inspection)
    requests.request_withdraw(actor=civilian, request_id=request.pk)
    place(request, ny(3, 2, 9), ny(3, 9, 9))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.breaches_mark(now=ny(3, 20, 9)) == 0
    assert selectors.overdue_request_ids(now=ny(3, 20, 9)) == []


def test_the_task_runs_the_service_as_the_system_user(
    inspection: Any, civilian: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _target(inspection, first=1)
    request = submitted(civilian, inspection)
    place(request, ny(1, 5, 9))  # long past: overdue now
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.mark_breaches() >= 1
        assert tasks.mark_breaches() == 0
    assert Breach.objects.filter(request_id=request.pk).count() == 2  # first response, resolution


def test_the_workers_outbox_sweep_sends_a_breach_left_pending(
    inspection: Any, civilian: Any, supervisor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from hms_portal.outbox import Drainer

    _target(inspection, first=1)
    request = submitted(civilian, inspection)
    place(request, ny(3, 2, 9))
    with django_capture_on_commit_callbacks(execute=False):
        services.breaches_mark(now=ny(3, 3, 9))  # the hand-over never ran: still pending
    Breach.objects.update(detected_at=ny(3, 3, 9))
    Drainer(sweep_seconds=1).drain({"breach-email": None})
    assert Breach.objects.get().notify == NotifyState.SENT
    assert [m.to for m in mail.outbox] == [[supervisor.email]]
