"""Property test: the inbox and the decision check agree.

For random direct and group grants, group memberships, superusers, auditors and deactivated
accounts,
delegations (scope, currency, ceiling, window, revoked or not, permission held or not) and
cases at random steps and amounts, each person's inbox at a random moment holds a case exactly
when the decision check lets them decide it then, and names the same grant; and the reading
the refusal explains a missing grant from finds a delegation lending the step exactly when
the grant could be made under one. And the rule agrees with the separation-of-duties table:
a person whose holder kind the table keeps from deciding (an administrator, an auditor) holds
no grant on any case and finds no delegation lending one.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import roles
from governance import selectors
from governance import services as governance
from governance.models import (
    ApprovalCase,
    ApproverKind,
    CaseStatus,
    CaseStep,
    Delegation,
    Duty,
)
from tests.factories import ProgramFactory
from tests.governance.conftest import KIND, make_policy, staff

pytestmark = pytest.mark.django_db

PEOPLE = 6
person = st.integers(min_value=0, max_value=PEOPLE - 1)
program = st.sampled_from(["a", "b"])
group = st.sampled_from(["g1", "g2"])

delegations = st.lists(
    st.fixed_dictionaries(
        {
            "delegator": person,
            "delegate": person,
            "program": st.sampled_from(["a", "a", "b"]),
            "subject_kind": st.sampled_from(["", "", KIND, "other"]),
            "scope_key": st.sampled_from(["", "", "x"]),
            "step_order": st.sampled_from([None, None, 1, 2]),
            "ceiling": st.sampled_from([0, 5_000, 50_000, 500_000, 500_000]),
            "currency": st.sampled_from(["USD", "USD", "USD", "EUR"]),
            "starts_in_hours": st.sampled_from([-48, -1, -1, 2]),
            "lasts_hours": st.sampled_from([2, 72, 72]),
            "revoked": st.sampled_from([False, False, False, True]),
            "permission": st.sampled_from([True, True, True, False]),
            "delegator_decides": st.sampled_from([True, True, False]),
        }
    ),
    min_size=1,
    max_size=5,
)
cases = st.lists(
    st.fixed_dictionaries(
        {
            "program": st.sampled_from(["a", "a", "b"]),
            "maker": person,
            "recommender": st.none() | person,
            "amount": st.sampled_from([None, 1_000, 20_000, 100_000]),
            "currency": st.sampled_from(["USD", "USD", "EUR"]),
            "scope_key": st.sampled_from(["", "x"]),
            "approvers": st.lists(person, max_size=3),
            "escalated": st.booleans(),
        }
    ),
    min_size=2,
    max_size=4,
)


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    """Two programs with active policies: on `a`, the program's deciders (48 hours, escalated
    to g2) then group g1 above 50.00; on `b`, any one of group g2."""
    programs = {
        "a": ProgramFactory(code="agree-a", name="Agree A"),
        "b": ProgramFactory(code="agree-b", name="Agree B"),
    }
    groups = {name: Group.objects.create(name=f"agree-{name}") for name in ("g1", "g2")}
    make_policy(
        programs["a"],
        governance.StepSpec(name="Deciders", sla_hours=48, escalate_to=groups["g2"]),
        governance.StepSpec(
            name="Panel",
            approver_kind=ApproverKind.GROUP,
            group=groups["g1"],
            threshold_minor=5_000,
        ),
        code="agree-a",
    )
    make_policy(
        programs["b"],
        governance.StepSpec(
            name="Board", approver_kind=ApproverKind.GROUP, group=groups["g2"], mode="any"
        ),
        code="agree-b",
    )
    people = [staff(f"agree-{i}") for i in range(PEOPLE)]
    return {"programs": programs, "groups": groups, "people": people}


def _delegate(world: dict[str, Any], spec: dict[str, Any], now: Any) -> None:
    people = world["people"]
    if spec["delegator"] == spec["delegate"]:
        return
    program = world["programs"][spec["program"]]
    delegate, delegator = people[spec["delegate"]], people[spec["delegator"]]
    if spec["delegator_decides"]:
        # The delegator holds every step of the program: its own grant and its groups.
        assign_perm("governance.decide_program", delegator, program)
        delegator.groups.add(world["groups"]["g1" if spec["program"] == "a" else "g2"])
    starts_at = now + timedelta(hours=spec["starts_in_hours"])
    try:
        # Two unrevoked delegations of one scope may not overlap (PostgreSQL refuses them).
        with transaction.atomic():
            Delegation.objects.create(
                delegator=delegator,
                delegate=delegate,
                program=program,
                subject_kind=spec["subject_kind"],
                scope_key=spec["scope_key"],
                step_order=spec["step_order"],
                ceiling_minor=spec["ceiling"],
                currency=spec["currency"],
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=spec["lasts_hours"]),
                reason="Away",
                created_by=delegator,
                revoked_at=now if spec["revoked"] else None,
                permission_granted=spec["permission"],
            )
    except IntegrityError:
        return
    if spec["permission"]:
        assign_perm("governance.decide_program_delegated", delegate, program)


def _open(world: dict[str, Any], spec: dict[str, Any]) -> ApprovalCase:
    people = world["people"]
    recommender = spec["recommender"]
    case = governance.case_open(
        actor=people[spec["maker"]],
        program=world["programs"][spec["program"]],
        subject_kind=KIND,
        subject_label="Agreement case",
        maker=people[spec["maker"]],
        recommender=people[recommender] if recommender is not None else None,
        amount_minor=spec["amount"],
        currency=spec["currency"] if spec["amount"] is not None else "",
        scope_key=spec["scope_key"],
    )
    for approver in spec["approvers"]:
        with contextlib.suppress(governance.GovernanceError):
            governance.case_decide(
                actor=people[approver], case_id=case.pk, outcome="approve", reason="ok"
            )
    return case


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    grants=st.sets(st.tuples(person, program), min_size=1, max_size=4),
    memberships=st.sets(st.tuples(person, group), max_size=6),
    group_grants=st.sets(st.sampled_from([("g1", "a"), ("g2", "a"), ("g2", "b")])),
    superuser=st.none() | person,
    auditor=st.none() | person,
    delegation_specs=delegations,
    case_specs=cases,
    deactivated=st.sets(person, max_size=2),
    hours_later=st.sampled_from([0, 0, 3, 60]),
)
def test_the_inbox_holds_a_case_exactly_when_the_decision_check_allows_it(
    world: dict[str, Any],
    grants: set[tuple[int, str]],
    memberships: set[tuple[int, str]],
    group_grants: set[tuple[str, str]],
    superuser: int | None,
    auditor: int | None,
    delegation_specs: list[dict[str, Any]],
    case_specs: list[dict[str, Any]],
    deactivated: set[int],
    hours_later: int,
) -> None:
    people, programs, groups = world["people"], world["programs"], world["groups"]
    with transaction.atomic():
        now = timezone.now()
        for who, where in grants:
            assign_perm("governance.decide_program", people[who], programs[where])
        for who, which in memberships:
            people[who].groups.add(groups[which])
        for which, where in group_grants:
            assign_perm("governance.decide_program", groups[which], programs[where])
        if superuser is not None:
            get_user_model().objects.filter(pk=people[superuser].pk).update(is_superuser=True)
        for spec in delegation_specs:
            _delegate(world, spec, now)
        if auditor is not None:  # after the delegations: theirs must not count either
            people[auditor].groups.add(Group.objects.get(name=roles.AUDITOR))
        opened = [_open(world, spec) for spec in case_specs]
        for case, spec in zip(opened, case_specs, strict=True):
            if spec["escalated"]:
                CaseStep.objects.filter(case=case, status="open").update(escalated_at=now)
        get_user_model().objects.filter(pk__in=[people[i].pk for i in deactivated]).update(
            is_active=False
        )

        moment = now + timedelta(hours=hours_later)
        users = get_user_model().objects.in_bulk([p.pk for p in people])
        for user in users.values():
            barred = user.is_active and not selectors.may_hold(user=user, duty=Duty.DECIDE)
            box = selectors.case_inbox(user=user, now=moment)
            listed = dict(box.cases.values_list("pk", "grant"))
            for case in ApprovalCase.objects.filter(pk__in=[c.pk for c in opened]):
                try:
                    grant = governance.case_validate_decider(actor=user, case=case, now=moment)
                except governance.GovernanceError:
                    grant = None
                where = f"{user.username} on case {case.pk} ({case.status})"
                assert (case.pk in listed) == (grant is not None), where
                if barred:
                    assert grant is None, where
                if grant is not None:
                    assert case.status == CaseStatus.OPEN
                    assert box.basis.as_grant(listed[case.pk]) == grant, where
                # The refusal's reading of the delegations follows the same rule: one lends the
                # step exactly when the grant could be made under it.
                held = selectors.decision_authority(user=user, case=case, now=moment)
                lacks = selectors.delegation_shortfalls(user=user, case=case, now=moment)
                lending = {d.pk for d, lack in lacks if lack is None}
                if held is None:
                    assert not lending, where
                elif held.delegation is not None:
                    assert held.delegation.pk in lending, where
        transaction.set_rollback(True)
