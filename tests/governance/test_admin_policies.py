"""The policy admin: a change to an active version becomes a new draft version; activation
and blocked-case actions go through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from governance import services as governance
from governance.models import ApprovalPolicy, CaseStatus, PolicyStatus
from tests.factories import UserFactory
from tests.governance.conftest import make_policy, open_case, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db: Any) -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _form(policy: ApprovalPolicy, **changes: Any) -> dict[str, Any]:
    data = {
        "code": policy.code,
        "name": policy.name,
        "program": policy.program_id,
        "subject_kind": policy.subject_kind,
        "scope_key": policy.scope_key,
        "amount_min_minor": policy.amount_min_minor or "",
        "amount_max_minor": policy.amount_max_minor or "",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_saving_an_active_version_makes_a_new_draft_and_leaves_it_untouched(
    client, root, bare_program
):
    policy = make_policy(bare_program, governance.StepSpec(name="Supervisor"), code="parks")
    client.force_login(root)
    url = reverse("admin:governance_approvalpolicy_change", args=[policy.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, _form(policy, name="Parks, stricter"))
    draft = ApprovalPolicy.objects.get(code="parks", version=2)
    assert response.status_code == 302
    assert response["Location"].endswith(
        reverse("admin:governance_approvalpolicy_change", args=[draft.pk])
    )
    policy.refresh_from_db()
    assert (policy.name, policy.status) == ("Parks policy", PolicyStatus.ACTIVE)
    assert (draft.name, draft.status, draft.steps.count()) == (
        "Parks, stricter",
        PolicyStatus.DRAFT,
        1,
    )
    changelist = reverse("admin:governance_approvalpolicy_changelist")
    client.post(changelist, {"action": "activate_drafts", "_selected_action": [draft.pk]})
    policy.refresh_from_db()
    draft.refresh_from_db()
    assert (policy.status, draft.status) == (PolicyStatus.RETIRED, PolicyStatus.ACTIVE)


def test_a_blocked_case_is_put_under_a_new_policy_from_the_admin(client, root, bare_program):
    case = open_case(bare_program, staff("maker"))
    assert case.status == CaseStatus.BLOCKED
    make_policy(bare_program, governance.StepSpec(name="Supervisor"))
    client.force_login(root)
    client.post(
        reverse("admin:governance_approvalcase_changelist"),
        {"action": "apply_policy", "_selected_action": [case.pk]},
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_staff_without_superuser_cannot_change_policies(client, bare_program):
    policy = make_policy(bare_program, governance.StepSpec(name="Supervisor"))
    person = staff("plain")
    client.force_login(person)
    url = reverse("admin:governance_approvalpolicy_change", args=[policy.pk])
    client.post(url, _form(policy, name="Hacked"))
    assert not ApprovalPolicy.objects.filter(name="Hacked").exists()
