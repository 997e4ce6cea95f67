"""The authority report covers policy steps decided by a named group: the group's members on
the date asked about, for the policy versions in force then, the delegations of those members,
and the escalation group; and it says exactly what the decision check permits."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.audit import SYSTEM_USERNAME, system_user
from governance import services as governance
from governance.membership import membership_actor
from governance.models import ApproverKind, GroupMembershipChange
from governance.selectors import (
    STEP_AUTHORITY,
    STEP_DELEGATED,
    STEP_ESCALATED,
    AuthorityRow,
    authority_as_of,
)
from tests.factories import ProgramFactory
from tests.governance.conftest import delegate_to, make_policy, open_case, staff

REPORT_URL = "/workflow/oversight/authority/"


def travel(moment: datetime) -> Any:
    """`with travel(moment):` makes `timezone.now()` answer `moment` (activation and
    retirement times, membership changes, history rows)."""
    return mock.patch.object(timezone, "now", return_value=moment)


def finance_step(group: Group, **kwargs: Any) -> governance.StepSpec:
    return governance.StepSpec(
        name="Finance check", approver_kind=ApproverKind.GROUP, group=group, **kwargs
    )


def step_rows(moment: datetime, permission: str = STEP_AUTHORITY) -> dict[str, list[AuthorityRow]]:
    """The report's rows of `permission` at `moment`, by person."""
    found: dict[str, list[AuthorityRow]] = {}
    for row in authority_as_of(moment=moment):
        if row.permission == permission:
            found.setdefault(row.person, []).append(row)
    return found


def test_a_group_step_member_appears_for_the_date_and_a_removed_one_does_not(bare_program):
    now = timezone.now()
    panel = Group.objects.create(name="Finance panel")
    alice, bob, carl = staff("alice"), staff("bob"), staff("carl")
    with travel(now - timedelta(days=10)):
        make_policy(
            bare_program,
            finance_step(panel, threshold_minor=5_000),
            code="parks-finance",
            subject_kind="service_request",
            scope_key="tree-removal",
            amount_max_minor=90_000,
        )
        panel.user_set.add(alice, bob)
    with travel(now - timedelta(days=5)):
        bob.groups.remove(panel)
    carl.groups.add(panel)

    week_ago = step_rows(now - timedelta(days=7))
    assert set(week_ago) == {alice.get_full_name(), bob.get_full_name()}
    (row,) = week_ago[alice.get_full_name()]
    assert row.program == "Parks"
    assert row.via == "group “Finance panel”"
    assert "step 1 “Finance check”" in row.step
    assert row.cases == "service_request, tree-removal, 5001 to 90000 minor units"

    today = step_rows(timezone.now())
    assert set(today) == {alice.get_full_name(), carl.get_full_name()}
    assert bob.get_full_name() not in today
    # Before the policy was activated no step named the group.
    assert step_rows(now - timedelta(days=11)) == {}


def test_a_policy_version_retired_before_the_date_does_not_contribute(bare_program):
    now = timezone.now()
    panel = Group.objects.create(name="Finance panel")
    with travel(now - timedelta(days=10)):
        alice = staff("alice", groups=(panel,))
        policy = make_policy(bare_program, finance_step(panel), code="parks-finance")
    with travel(now - timedelta(days=5)):
        governance.policy_retire(actor=system_user(), policy_id=policy.pk)

    assert set(step_rows(now - timedelta(days=7))) == {alice.get_full_name()}
    assert step_rows(now - timedelta(days=3)) == {}
    assert step_rows(timezone.now()) == {}


def test_a_retired_version_still_governing_an_open_case_is_listed_and_marked(bare_program):
    now = timezone.now()
    old_panel = Group.objects.create(name="Old panel")
    new_panel = Group.objects.create(name="New panel")
    alice = staff("alice", groups=(old_panel,))
    nora = staff("nora", groups=(new_panel,))
    with travel(now - timedelta(days=10)):
        first = make_policy(bare_program, finance_step(old_panel), code="parks-finance")
        case = open_case(bare_program, staff("maker"))
    with travel(now - timedelta(days=5)):
        draft = governance.policy_new_version(actor=system_user(), policy_id=first.pk)
        draft.steps.update(group=new_panel)
        governance.policy_activate(actor=system_user(), policy_id=draft.pk)

    today = step_rows(timezone.now())
    assert set(today) == {alice.get_full_name(), nora.get_full_name()}
    assert "v1" in today[alice.get_full_name()][0].step
    assert "still open under it" in today[alice.get_full_name()][0].step
    assert "retired" not in today[nora.get_full_name()][0].step
    # The decision check agrees: the open case follows the version it opened under.
    assert governance.case_validate_decider(actor=alice, case=case).kind == "own"
    with pytest.raises(governance.GovernanceError):
        governance.case_validate_decider(actor=nora, case=case)


def test_report_matches_what_the_decision_check_permits(bare_program):
    panel = Group.objects.create(name="Finance panel")
    night = Group.objects.create(name="Night desk")
    make_policy(
        bare_program,
        finance_step(panel, sla_hours=1, escalate_to=night),
        code="parks-finance",
        subject_kind="test_subject",
    )
    alice = staff("alice", groups=(panel,))
    carol = staff("carol", program=bare_program, groups=(panel,))
    frank = staff("frank", program=bare_program)
    bob = staff("bob", groups=(panel,))
    bob.groups.remove(panel)
    dave, erin, gina, owen = staff("dave"), staff("erin"), staff("gina"), staff("owen")
    nick = staff("nick", groups=(night,))
    # Carol is in the group: her delegate reaches the group step. Frank holds the program's
    # decide permission but not the group: his delegate does not.
    delegate_to(carol, dave, bare_program, step_order=1)
    delegate_to(frank, erin, bare_program)
    # Out of scope: another subject kind.
    delegate_to(carol, owen, bare_program, subject_kind="allocation_round")
    case = open_case(bare_program, staff("maker"), amount_minor=10_000)

    rows = [r for r in authority_as_of(moment=timezone.now()) if "Finance check" in r.step]
    step_people = {r.person for r in rows if r.permission in (STEP_AUTHORITY, STEP_DELEGATED)}
    for person in (alice, carol, bob, dave, erin, gina, owen, frank, nick):
        try:
            governance.case_validate_decider(actor=person, case=case)
        except governance.GovernanceError:
            permitted = False
        else:
            permitted = True
        assert (person.get_full_name() in step_people) is permitted, person.username
    assert step_people == {alice.get_full_name(), carol.get_full_name(), dave.get_full_name()}
    (delegated,) = [r for r in rows if r.permission == STEP_DELEGATED]
    assert delegated.via.startswith("delegation #")
    assert f"from {carol.get_full_name()}, a member of group “Finance panel”" in delegated.via
    assert delegated.cases == "test_subject, any scope, up to 1000000 minor units USD"
    escalated = {r.person for r in rows if r.permission == STEP_ESCALATED}
    # Nick may decide only once the step is overdue and escalated to his group.
    assert escalated == {nick.get_full_name()}


def _add_policy(program: Any, n: int) -> None:
    panel = Group.objects.create(name=f"Panel {n}")
    desk = Group.objects.create(name=f"Desk {n}")
    make_policy(
        program,
        finance_step(panel, sla_hours=4, escalate_to=desk),
        code=f"policy-{n}",
        scope_key=f"key-{n}",
    )
    delegator = staff(f"delegator-{n}", program=program, groups=(panel,))
    for i in range(2):
        staff(f"member-{n}-{i}", groups=(panel,))
    staff(f"desk-{n}", groups=(desk,))
    delegate_to(delegator, staff(f"delegate-{n}"), program, scope_key=f"key-{n}")


@pytest.mark.parametrize("policies", [1, 10])
def test_report_runs_a_fixed_number_of_queries(db, policies, django_assert_num_queries):
    program = ProgramFactory(code="parks", name="Parks")
    for n in range(policies):
        _add_policy(program, n)
    # Ten, and one for the separation-of-duties rules.
    with django_assert_num_queries(11):
        rows = authority_as_of(moment=timezone.now())
    assert len([r for r in rows if r.permission == STEP_AUTHORITY]) == 3 * policies
    assert len([r for r in rows if r.permission == STEP_DELEGATED]) == policies
    assert len([r for r in rows if r.permission == STEP_ESCALATED]) == policies


def test_the_auditor_page_shows_the_group_step_rows(client, bare_program, auditor):
    now = timezone.now()
    panel = Group.objects.create(name="Finance panel")
    leaver = staff("leaver")
    with travel(now - timedelta(days=10)):
        make_policy(bare_program, finance_step(panel), code="parks-finance")
        leaver.groups.add(panel)
    with travel(now - timedelta(days=1)):
        leaver.groups.remove(panel)
    client.force_login(auditor)
    moment = timezone.localtime(now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.get(REPORT_URL, {"moment": moment})
    assert response.status_code == 200
    page = response.content.decode()
    assert leaver.get_full_name() in page
    assert STEP_AUTHORITY in page
    assert "step 1 “Finance check”" in page
    assert leaver.get_full_name() not in client.get(REPORT_URL).content.decode()


def test_the_report_page_is_refused_to_a_decider_and_to_the_anonymous(client, bare_program):
    decider = staff("decider", program=bare_program)
    client.force_login(decider)
    assert client.get(REPORT_URL).status_code == 403
    client.logout()
    assert client.get(REPORT_URL).status_code == 302


def test_membership_actor_names_the_maker_of_changes_outside_a_request(bare_program):
    panel = Group.objects.create(name="Finance panel")
    admin, member = staff("admin-person"), staff("member")
    importer = staff("importer")
    with membership_actor(admin):
        member.groups.add(panel)
        with membership_actor(importer):
            panel.user_set.add(importer)
        panel.user_set.add(admin)
    member.groups.remove(panel)
    HistoricalRecords.context.request = SimpleNamespace(user=importer)
    try:
        with membership_actor(admin):
            panel.user_set.remove(importer)
    finally:
        del HistoricalRecords.context.request
    rows = sorted(
        GroupMembershipChange.objects.filter(group=panel).values_list(
            "user__username", "action", "actor__username"
        )
    )
    assert rows == sorted(
        [
            ("member", "added", "admin-person"),
            ("importer", "added", "importer"),
            ("admin-person", "added", "admin-person"),
            ("member", "removed", SYSTEM_USERNAME),
            ("importer", "removed", "admin-person"),
        ]
    )
