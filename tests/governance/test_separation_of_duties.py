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
from django.utils import timezone
from guardian.shortcuts import assign_perm

from core import roles
from governance import selectors
from governance import services as governance
from governance.models import CaseStatus, Decision, Delegation
from tests.conftest import _person
from tests.governance.conftest import delegate_to, make_policy, open_case, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def parks(bare_program: Any) -> Any:
    make_policy(bare_program, governance.StepSpec(name="Supervisor"))
    return bare_program


@pytest.fixture
def auditor(db: Any) -> Any:
    return _person("audra", roles.AUDITOR, staff=True)


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
    )
    assign_perm("governance.decide_program_delegated", delegate, program)
    return delegation


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


def test_the_authority_report_never_lists_an_auditor_as_a_decider(
    parks: Any, auditor: Any
) -> None:
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
