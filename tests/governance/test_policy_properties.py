"""Property tests: random policies, amounts and decision sequences.

Whatever the policy and whoever tries what in whichever order, no case reaches "approved"
without every applicable step satisfied, and separation of duties is never broken.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from guardian.shortcuts import assign_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.audit import system_user
from governance import services as governance
from governance.models import (
    ApprovalCase,
    ApproverKind,
    CaseStatus,
    CaseStepStatus,
    Decision,
    Outcome,
)
from tests.factories import ProgramFactory
from tests.governance.conftest import OUTCOMES, delegate_to, staff

pytestmark = pytest.mark.django_db

step_specs = st.builds(
    dict,
    kind=st.sampled_from([ApproverKind.PROGRAM, ApproverKind.GROUP]),
    mode=st.sampled_from(["one", "any", "all", "quorum"]),
    quorum=st.integers(min_value=1, max_value=3),
    threshold=st.sampled_from([None, None, 0, 5_000, 20_000]),
)
actions = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7),
        st.sampled_from(["approve", "approve", "approve", "approve", "return", "reject"]),
    ),
    max_size=12,
)


@pytest.fixture
def cast(db: Any) -> dict[str, Any]:
    """u0 makes the cases, u1 recommends them (both hold the decide permission), u2 to u5
    decide, u3 to u5 are the "board" group, u6 is an outsider, u7 acts for u2 up to 200.00."""
    program = ProgramFactory(code="prop", name="Property")
    board = Group.objects.create(name="board")
    people = [staff(f"u{i}") for i in range(8)]
    for person in people[:6]:
        assign_perm("governance.decide_program", person, program)
    for person in people[3:6]:
        person.groups.add(board)
    delegate_to(people[2], people[7], program, ceiling_minor=20_000)
    return {"program": program, "board": board, "people": people}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(step_specs, min_size=1, max_size=3),
    amount=st.sampled_from([None, 1_000, 10_000, 50_000]),
    sequence=actions,
)
def test_no_approval_without_every_applicable_step_and_sod_always_holds(
    cast: dict[str, Any], specs: list[dict[str, Any]], amount: int | None, sequence: Any
) -> None:
    program, board, people = cast["program"], cast["board"], cast["people"]
    maker, recommender = people[0], people[1]
    with transaction.atomic():
        OUTCOMES.clear()
        steps = [
            governance.StepSpec(
                name=f"Step {n}",
                approver_kind=spec["kind"],
                group=board if spec["kind"] == ApproverKind.GROUP else None,
                mode=spec["mode"],
                quorum=spec["quorum"] if spec["mode"] == "quorum" else None,
                quorum_of=3 if spec["mode"] == "quorum" else None,
                threshold_minor=spec["threshold"],
            )
            for n, spec in enumerate(specs, start=1)
        ]
        governance.policy_create(
            actor=system_user(), program=program, code="prop", name="P", steps=steps, activate=True
        )
        case = governance.case_open(
            actor=recommender,
            program=program,
            subject_kind="test_subject",
            subject_label="Property case",
            maker=maker,
            recommender=recommender,
            amount_minor=amount,
            currency="USD" if amount is not None else "",
        )
        for who, outcome in sequence:
            with contextlib.suppress(governance.GovernanceError):
                governance.case_decide(
                    actor=people[who], case_id=case.pk, outcome=outcome, reason="why"
                )
        _check(ApprovalCase.objects.get(pk=case.pk), steps, amount, maker, recommender, board)
        transaction.set_rollback(True)


def _check(
    case: ApprovalCase,
    steps: list[governance.StepSpec],
    amount: int | None,
    maker: Any,
    recommender: Any,
    board: Group,
) -> None:
    decisions = list(Decision.objects.filter(case=case).select_related("case_step__step"))
    applicable = [
        n
        for n, s in enumerate(steps, start=1)
        if s.threshold_minor is None or (amount or 0) > s.threshold_minor
    ]
    if not applicable:
        assert case.status == CaseStatus.BLOCKED
        assert decisions == []
        return

    # Separation of duties: maker and recommender never decide, nobody decides twice (in
    # person or through a delegate), a delegate always names the delegator.
    people = Counter()
    for decision in decisions:
        for person in (decision.decided_by_id, decision.on_behalf_of_id):
            if person is not None:
                assert person not in (maker.pk, recommender.pk)
                people[person] += 1
        if decision.delegation_id is not None:
            assert decision.on_behalf_of_id == decision.delegation.delegator_id
            assert (case.amount_minor or 0) <= decision.delegation.ceiling_minor
    assert all(n == 1 for n in people.values())

    # Group steps are decided by the group's members (or delegates of members).
    member_ids = set(board.user_set.values_list("pk", flat=True))
    for decision in decisions:
        if decision.case_step.step.approver_kind == ApproverKind.GROUP:
            principal = decision.on_behalf_of_id or decision.decided_by_id
            assert principal in member_ids

    approvals = Counter(d.case_step.order for d in decisions if d.outcome == Outcome.APPROVE)
    by_order = {s.order: s for s in case.steps.all()}
    assert sorted(by_order) == list(range(1, len(steps) + 1))
    if case.status == CaseStatus.APPROVED:
        for order in applicable:
            step = by_order[order]
            assert step.status == CaseStepStatus.APPROVED
            assert approvals[order] == step.approvals >= step.required_approvals
        assert [(case.pk, "approve", OUTCOMES[0][2])] == OUTCOMES
    else:
        # Not approved: at least one applicable step is not satisfied.
        assert any(by_order[o].status != CaseStepStatus.APPROVED for o in applicable)
    for order, step in by_order.items():
        if order not in applicable:
            assert step.status == CaseStepStatus.SKIPPED
            assert approvals[order] == 0
    if case.status == CaseStatus.OPEN:
        assert OUTCOMES == []
    elif case.status in (CaseStatus.REJECTED, CaseStatus.RETURNED):
        assert len(OUTCOMES) == 1
        assert decisions[-1].outcome == OUTCOMES[0][1]
