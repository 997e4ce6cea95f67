"""Governance test kit: a subject kind whose handler records what it is told, policies built
through the services, and the personas of the permission matrix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from core import events
from core.audit import system_user
from governance import services as governance
from governance.models import ApprovalCase, Delegation, Program
from tests.factories import ProgramFactory, UserFactory

KIND = "test_subject"
# (case id, outcome, actor username) for every final outcome handed to the subject's app.
OUTCOMES: list[tuple[int, str, str]] = []


def _record(case: Any, decision: Any, actor: Any) -> None:
    OUTCOMES.append((case.pk, decision.outcome, actor.username))


events.subscribe_one(events.CASE_OUTCOME, KIND, _record)


@pytest.fixture(autouse=True)
def _clear_outcomes() -> None:
    OUTCOMES.clear()


def staff(username: str, *, program: Program | None = None, groups: tuple[Group, ...] = ()) -> Any:
    """An active staff member, deciding for `program` when given."""
    user = UserFactory(username=username, is_staff=True)
    if program is not None:
        assign_perm("governance.decide_program", user, program)
    for group in groups:
        user.groups.add(group)
    return user


def make_policy(program: Program, *steps: governance.StepSpec, code: str = "", **scope: Any) -> Any:
    return governance.policy_create(
        actor=system_user(),
        program=program,
        code=code or f"{program.code}-{len(steps)}-steps-{scope.get('scope_key', '')}",
        name=f"{program.name} policy",
        steps=list(steps),
        activate=True,
        **scope,
    )


def open_case(
    program: Program,
    maker: Any,
    *,
    amount_minor: int | None = 10_000,
    recommender: Any = None,
    kind: str = KIND,
    scope_key: str = "",
) -> ApprovalCase:
    return governance.case_open(
        actor=maker,
        program=program,
        subject_kind=kind,
        subject_label=f"Subject of {maker.username}",
        maker=maker,
        recommender=recommender,
        amount_minor=amount_minor,
        currency="USD" if amount_minor is not None else "",
        scope_key=scope_key,
    )


def decide(actor: Any, case: ApprovalCase, outcome: str = "approve", reason: str = "ok") -> Any:
    return governance.case_decide(actor=actor, case_id=case.pk, outcome=outcome, reason=reason)


def delegate_to(delegator: Any, delegate: Any, program: Program, **kwargs: Any) -> Any:
    now = timezone.now()
    values = {
        "ceiling_minor": 1_000_000,
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(days=2),
        "reason": "On leave",
    }
    values.update(kwargs)
    return governance.delegation_create(
        actor=delegator, delegate=delegate, program=program, **values
    )


def forced_delegation(delegator: Any, delegate: Any, program: Any) -> Delegation:
    """A delegation that exists although the service would refuse it (an old row, a
    restored backup, a direct write): the decision check must not honour it."""
    now = timezone.now()
    delegation = Delegation.objects.create(
        delegator=delegator,
        delegate=delegate,
        program=program,
        ceiling_minor=1_000_000,
        currency="USD",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=2),
        reason="On leave",
        permission_granted=True,
        created_by=delegator,
    )
    assign_perm("governance.decide_program_delegated", delegate, program)
    return delegation


@pytest.fixture
def bare_program(db: Any) -> Program:
    """A program with no policy at all."""
    return ProgramFactory(code="parks", name="Parks")
