"""Deadlines: a warning before the step is due, one escalation once it is overdue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone

from core.audit import system_user
from governance import services as governance
from governance import tasks
from governance.models import CaseEvent, CaseStep
from tests.governance.conftest import decide, make_policy, open_case, staff

Step = governance.StepSpec


@pytest.fixture
def seniors(db: Any) -> Group:
    return Group.objects.create(name="senior supervisors")


@pytest.fixture
def case(bare_program: Any, seniors: Group) -> Any:
    make_policy(bare_program, Step(name="Supervisor", sla_hours=10, escalate_to=seniors))
    staff("sup", program=bare_program)
    return open_case(bare_program, staff("maker"))


def _run(case: Any, after: timedelta, capture: Any) -> dict[str, int]:
    step = CaseStep.objects.get(case=case)
    with capture(execute=True):
        return governance.steps_warn_and_escalate(actor=system_user(), now=step.opened_at + after)


def test_the_step_is_due_by_its_sla(case):
    step = case.current_step
    assert step.due_at == step.opened_at + timedelta(hours=10)
    assert step.warn_at == step.due_at - timedelta(hours=5)  # half the SLA, under the 24 h default
    assert case.due_at == step.due_at


def test_deciders_are_warned_once_before_the_deadline(case, django_capture_on_commit_callbacks):
    assert _run(case, timedelta(hours=4), django_capture_on_commit_callbacks) == {
        "warned": 0,
        "escalated": 0,
    }
    assert _run(case, timedelta(hours=6), django_capture_on_commit_callbacks)["warned"] == 1
    assert _run(case, timedelta(hours=7), django_capture_on_commit_callbacks)["warned"] == 0
    assert CaseEvent.objects.filter(case=case, kind="warned").count() == 1
    assert [m.to for m in mail.outbox] == [["sup@example.test"]]


def test_an_overdue_step_escalates_once_and_both_sides_are_told(
    case, seniors, django_capture_on_commit_callbacks
):
    senior = staff("senior", groups=(seniors,))
    with pytest.raises(governance.GovernanceError, match="do not hold the authority"):
        decide(senior, case)
    assert _run(case, timedelta(hours=11), django_capture_on_commit_callbacks) == {
        "warned": 0,
        "escalated": 1,
    }
    assert _run(case, timedelta(hours=12), django_capture_on_commit_callbacks)["escalated"] == 0
    events = CaseEvent.objects.filter(case=case, kind="escalated")
    assert events.count() == 1
    assert "senior supervisors" in events.get().message
    assert sorted(m.to[0] for m in mail.outbox) == ["senior@example.test", "sup@example.test"]
    step = CaseStep.objects.get(case=case)
    assert step.escalated_at is not None
    assert step.history.latest().history_user.username == "system"
    # The escalation target may now decide the step.
    decision = decide(senior, case)
    assert decision.on_behalf_of is None


def test_the_beat_task_escalates_overdue_steps_once(case, django_capture_on_commit_callbacks):
    CaseStep.objects.filter(case=case).update(
        due_at=case.current_step.opened_at, warn_at=case.current_step.opened_at
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.escalate_overdue.delay().get()
        second = tasks.escalate_overdue.delay().get()
    assert first == {"warned": 0, "escalated": 1}
    assert second == {"warned": 0, "escalated": 0}
    assert CaseEvent.objects.filter(case=case, kind="escalated").count() == 1


def test_the_beat_task_warns_before_the_deadline_once(case, django_capture_on_commit_callbacks):
    now = timezone.now()
    CaseStep.objects.filter(case=case).update(
        warn_at=now - timedelta(minutes=5), due_at=now + timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.escalate_overdue.delay().get()
        second = tasks.escalate_overdue.delay().get()
    assert first == {"warned": 1, "escalated": 0}
    assert second == {"warned": 0, "escalated": 0}
    assert CaseEvent.objects.filter(case=case, kind="warned").count() == 1
    assert CaseEvent.objects.filter(case=case, kind="escalated").count() == 0
    assert [m.to for m in mail.outbox] == [["sup@example.test"]]
    assert mail.outbox[0].subject.startswith(f"[HMS] Approval case {case.pk} is due ")


def test_a_decided_step_is_neither_warned_nor_escalated(case, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    decide(get_user_model().objects.get(username="sup"), case)
    assert _run(case, timedelta(days=3), django_capture_on_commit_callbacks) == {
        "warned": 0,
        "escalated": 0,
    }
