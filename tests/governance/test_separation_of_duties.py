"""Separation of duties as data: auditors and administrators never hold decide authority,
directly or by delegation, and the authority report lists nobody twice.

The defects these reproduce: a supervisor could delegate approval authority to the auditor
("Delegation recorded."), the auditor then got a working decision form, and the authority
report listed the auditor as an approver twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from core import roles
from governance import selectors
from governance import services as governance
from governance.models import (
    ApproverKind,
    CaseStatus,
    CaseStep,
    Decision,
    Delegation,
    Duty,
    DutyConflict,
    Holder,
)
from tests.conftest import _person
from tests.governance.conftest import (
    delegate_to,
    forced_delegation,
    make_policy,
    open_case,
    staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def parks(bare_program: Any) -> Any:
    make_policy(bare_program, governance.StepSpec(name="Supervisor"))
    return bare_program


@pytest.fixture
def auditor(db: Any) -> Any:
    return _person("audra", roles.AUDITOR, staff=True)


def _delegation_form(program: Any, delegate: Any) -> dict[str, Any]:
    now = timezone.localtime()
    return {
        "delegate": delegate.pk,
        "program": program.pk,
        "ceiling": "2500",
        "starts_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "On leave",
    }


def test_delegating_decide_authority_to_an_auditor_is_refused_on_the_delegate_field(
    client: Any, parks: Any, auditor: Any
) -> None:
    boss = staff("boss", program=parks)
    client.force_login(boss)
    response = client.post("/workflow/delegations/", _delegation_form(parks, auditor))
    assert response.status_code == 400
    assert "Delegation recorded" not in response.content.decode()
    assert "Separation of duties" in response.context["form"].errors["delegate"][0]
    assert not Delegation.objects.exists()
    with pytest.raises(governance.GovernanceError, match="Separation of duties") as refused:
        delegate_to(boss, auditor, parks)
    assert refused.value.code == "delegate"
    assert not Delegation.objects.exists()


def test_delegating_to_an_administrator_is_refused(parks: Any) -> None:
    boss = staff("boss", program=parks)
    admin = staff("root")
    admin.is_superuser = True
    admin.save()
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        delegate_to(boss, admin, parks)
    assert not Delegation.objects.exists()


def test_an_auditor_holding_a_delegation_gets_no_decision_form_and_cannot_decide(
    client: Any, parks: Any, auditor: Any
) -> None:
    boss = staff("boss", program=parks)
    forced_delegation(boss, auditor, parks)
    case = open_case(parks, staff("maker"))
    client.force_login(auditor)
    page = client.get(f"/workflow/cases/{case.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="decision-form"' not in body
    assert "Separation of duties" in body
    response = client.post(f"/workflow/cases/{case.pk}/", {"outcome": "approve", "reason": "ok"})
    assert response.status_code == 400
    assert case.pk not in set(selectors.case_inbox(user=auditor).cases.values_list("pk", flat=True))
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        governance.case_decide(actor=auditor, case_id=case.pk, outcome="approve", reason="ok")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not Decision.objects.exists()


def test_an_auditor_given_the_decide_permission_directly_still_cannot_decide(
    parks: Any, auditor: Any
) -> None:
    assign_perm("governance.decide_program", auditor, parks)
    case = open_case(parks, staff("maker"))
    assert selectors.decision_authority(user=auditor, case=case) is None
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        governance.case_decide(actor=auditor, case_id=case.pk, outcome="approve", reason="ok")


def test_an_administrator_cannot_decide(parks: Any) -> None:
    admin = staff("root")
    admin.is_superuser = True
    admin.save()
    case = open_case(parks, staff("maker"))
    assert selectors.decision_authority(user=admin, case=case) is None
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        governance.case_decide(actor=admin, case_id=case.pk, outcome="approve", reason="ok")
    assert not Decision.objects.exists()


def test_a_delegate_of_an_auditor_holds_nothing(parks: Any, auditor: Any) -> None:
    assign_perm("governance.decide_program", auditor, parks)
    delegate = staff("delegate")
    forced_delegation(auditor, delegate, parks)
    case = open_case(parks, staff("maker"))
    assert selectors.decision_authority(user=delegate, case=case) is None
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        governance.case_decide(actor=delegate, case_id=case.pk, outcome="approve", reason="ok")


def test_granting_decide_authority_to_an_auditor_is_refused(parks: Any, auditor: Any) -> None:
    admin = staff("root")
    admin.is_superuser = True
    admin.save()
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        governance.program_permission_grant(
            actor=admin, program=parks, user=auditor, permission="governance.decide_program"
        )
    assert not auditor.has_perm("governance.decide_program", parks)
    # Reviewing is not deciding: that grant stands.
    governance.program_permission_grant(
        actor=admin, program=parks, user=auditor, permission="governance.review_program"
    )


def test_the_authority_report_never_lists_an_auditor_as_a_decider(parks: Any, auditor: Any) -> None:
    boss = staff("boss", program=parks)
    forced_delegation(boss, auditor, parks)
    assign_perm("governance.decide_program", auditor, parks)
    rows = selectors.authority_as_of(moment=timezone.now())
    named = auditor.get_full_name() or auditor.get_username()
    assert [r for r in rows if r.person.startswith(named)] == []


def test_the_authority_report_lists_a_delegate_once(parks: Any) -> None:
    boss = staff("boss", program=parks)
    delegate = staff("delegate")
    delegation = delegate_to(boss, delegate, parks)
    rows = selectors.authority_as_of(moment=timezone.now())
    named = delegate.get_full_name() or delegate.get_username()
    mine = [r for r in rows if r.person == named]
    assert len(mine) == 1, mine
    assert mine[0].via.startswith(f"delegation #{delegation.pk} from ")


# --- the whole role x action matrix -----------------------------------------------------------

HOLDERS = [Holder.ADMINISTRATOR, *roles.ROLES]
# Every way to decide, to come to decide, or to lend deciding.
ACTIONS = [
    "decide_own",
    "decide_group_step",
    "decide_escalated",
    "decide_delegated",
    "receive_delegation",
    "give_delegation",
    "be_granted_decide",
]


def _holding(holder: str, username: str) -> Any:
    """An active staff member who is `holder`: a superuser, or a member of the role group."""
    person = staff(username)
    if holder == Holder.ADMINISTRATOR:
        person.is_superuser = True
        person.save()
    else:
        person.groups.add(Group.objects.get(name=holder))
    return person


def _attempt(action: str, person: Any, program: Any) -> str | None:
    """The refusal `person` meets trying `action` on `program` (every other rule satisfied),
    or None when they get to do it."""
    root = staff("root-of-the-matrix")
    root.is_superuser = True
    root.save()
    maker = staff("matrix-maker")
    now = timezone.now()
    window = {
        "subject_kind": "",
        "scope_key": "",
        "step_order": None,
        "ceiling_minor": 1_000_000,
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(days=2),
        "reason": "On leave",
        "now": now,
    }
    in_inbox = False
    try:
        if action == "receive_delegation":
            boss = staff("matrix-boss", program=program)
            governance.delegation_validate(
                actor=boss, delegator=boss, delegate=person, program=program, **window
            )
            return None
        if action == "give_delegation":
            assign_perm("governance.decide_program", person, program)
            governance.delegation_validate(
                actor=person,
                delegator=person,
                delegate=staff("matrix-delegate"),
                program=program,
                **window,
            )
            return None
        if action == "be_granted_decide":
            governance.program_permission_grant(
                actor=root, program=program, user=person, permission="governance.decide_program"
            )
            return None
        if action == "decide_own":
            make_policy(program, governance.StepSpec(name="Deciders"))
            assign_perm("governance.decide_program", person, program)
        elif action == "decide_group_step":
            panel = Group.objects.create(name="matrix-panel")
            person.groups.add(panel)
            make_policy(
                program,
                governance.StepSpec(name="Panel", approver_kind=ApproverKind.GROUP, group=panel),
            )
        elif action == "decide_escalated":
            desk = Group.objects.create(name="matrix-desk")
            person.groups.add(desk)
            make_policy(
                program, governance.StepSpec(name="Deciders", sla_hours=1, escalate_to=desk)
            )
        elif action == "decide_delegated":
            make_policy(program, governance.StepSpec(name="Deciders"))
            forced_delegation(staff("matrix-boss", program=program), person, program)
        case = open_case(program, maker)
        if action == "decide_escalated":
            CaseStep.objects.filter(case=case, status="open").update(escalated_at=now)
        in_inbox = case.pk in set(
            selectors.case_inbox(user=person).cases.values_list("pk", flat=True)
        )
        governance.case_decide(actor=person, case_id=case.pk, outcome="approve", reason="ok")
    except governance.GovernanceError as error:
        assert not (action.startswith("decide") and in_inbox), "the inbox lists it"
        return str(error.messages[0])
    assert in_inbox or not action.startswith("decide"), "the inbox leaves it out"
    return None


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("holder", HOLDERS)
def test_the_duty_table_holds_for_every_role_and_action(
    bare_program: Any, holder: str, action: str
) -> None:
    """Every role, administrators and auditors included, against every way of holding decide
    authority: allowed exactly when the separation-of-duties table does not forbid it."""
    forbidden = DutyConflict.objects.filter(holder=holder, duty=Duty.DECIDE).exists()
    person = _holding(holder, f"matrix-{holder}")
    refusal = _attempt(action, person, bare_program)
    if forbidden:
        assert refusal is not None
        assert refusal.startswith("Separation of duties"), refusal
    else:
        assert refusal is None


def test_the_bureau_starts_with_its_three_rules(db: Any) -> None:
    assert set(DutyConflict.objects.values_list("holder", "duty")) == {
        (Holder.AUDITOR, Duty.DECIDE),
        (Holder.ADMINISTRATOR, Duty.DECIDE),
        (Holder.FINANCE_OFFICER, Duty.APPROVE_OWN_FUND_ROUND),
    }


def test_the_rules_are_data_that_only_administrators_change_on_the_record(
    parks: Any, auditor: Any
) -> None:
    """Removing a rule lifts its bar (the rules are read from the table, not the code); only
    an administrator may, and the history names them."""
    rule = DutyConflict.objects.get(holder=Holder.AUDITOR, duty=Duty.DECIDE)
    with pytest.raises(governance.GovernanceError, match="Only an administrator"):
        governance.duty_conflict_delete(actor=staff("boss", program=parks), rule_id=rule.pk)
    assign_perm("governance.decide_program", auditor, parks)
    case = open_case(parks, staff("maker"))
    assert selectors.decision_authority(user=auditor, case=case) is None
    root = staff("root")
    root.is_superuser = True
    root.save()
    governance.duty_conflict_delete(actor=root, rule_id=rule.pk)
    assert selectors.decision_authority(user=auditor, case=case) is not None
    removed = DutyConflict.history.filter(id=rule.pk).first()
    assert removed.history_type == "-"
    assert removed.history_user == root
