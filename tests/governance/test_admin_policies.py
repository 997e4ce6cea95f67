"""The policy admin: a new policy and a change to an active version become the next draft
version of their code; a draft's steps are added, changed and removed in one service call;
activation and blocked-case actions go through the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from governance import services as governance
from governance.models import ApprovalPolicy, CaseStatus, PolicyStatus, PolicyStep
from tests.factories import UserFactory
from tests.governance.conftest import make_policy, open_case, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db: Any) -> Any:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _form(policy: ApprovalPolicy, *steps: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The change form's POST: the policy's fields with `changes`, and one inline form per
    entry of `steps` (an existing step's first, with its `id`)."""
    data = {
        "code": policy.code,
        "name": policy.name,
        "program": policy.program_id,
        "subject_kind": policy.subject_kind,
        "scope_key": policy.scope_key,
        "amount_min_minor": policy.amount_min_minor or "",
        "amount_max_minor": policy.amount_max_minor or "",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(sum(1 for s in steps if s.get("id"))),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, step in enumerate(steps):
        data.update({f"steps-{index}-{name}": value for name, value in step.items()})
    data.update(changes)
    return data


def _step(step: PolicyStep | None = None, **changes: Any) -> dict[str, Any]:
    """One inline form: `step`'s values (or a new step's defaults) with `changes`."""
    values: dict[str, Any] = {
        "order": step.order if step else "",
        "name": step.name if step else "",
        "approver_kind": step.approver_kind if step else "program",
        "mode": step.mode if step else "one",
        "reason_on_return": "on",
        "reason_on_reject": "on",
    }
    if step is not None:
        values.update(id=step.pk, policy=step.policy_id)
    values.update(changes)
    return values


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


def test_a_new_policy_in_the_admin_is_the_next_draft_version_of_its_code(
    client, root, bare_program
):
    make_policy(bare_program, governance.StepSpec(name="Supervisor"), code="parks")
    client.force_login(root)
    template = ApprovalPolicy(code="parks", name="Parks, again", program=bare_program)
    response = client.post(
        reverse("admin:governance_approvalpolicy_add"),
        _form(template, _step(order=1, name="Director")),
    )
    assert response.status_code == 302
    draft = ApprovalPolicy.objects.get(code="parks", version=2)
    assert (draft.status, draft.created_by, draft.name) == (
        PolicyStatus.DRAFT,
        root,
        "Parks, again",
    )
    assert list(draft.steps.values_list("order", "name")) == [(1, "Director")]
    assert draft.history.get().history_user == root


def test_a_drafts_steps_are_added_changed_and_removed_in_one_save(client, root, bare_program):
    draft = governance.policy_create(
        actor=root,
        program=bare_program,
        code="parks",
        name="Parks",
        steps=[governance.StepSpec(name="Clerk"), governance.StepSpec(name="Supervisor")],
    )
    clerk, supervisor = draft.steps.order_by("order")
    client.force_login(root)
    url = reverse("admin:governance_approvalpolicy_change", args=[draft.pk])
    response = client.post(
        url,
        _form(
            draft,
            _step(clerk, DELETE="on"),
            _step(supervisor, name="Head of parks", sla_hours=48),
            _step(order=3, name="Director"),
        ),
    )
    assert response.status_code == 302
    assert list(draft.steps.order_by("order").values_list("order", "name", "sla_hours")) == [
        (2, "Head of parks", 48),
        (3, "Director", None),
    ]
    history = PolicyStep.history.filter(policy_id=draft.pk).exclude(history_type="+")
    assert {(h.history_type, h.name, h.history_user, h.history_change_reason) for h in history} == {
        ("-", "Clerk", root, "step removed"),
        ("~", "Head of parks", root, "step changed"),
    }
    director = draft.steps.get(order=3)
    assert director.history.get().history_change_reason == "step added"
    # The admin's log names what the save did, from the rows the service returned.
    logged = LogEntry.objects.get(object_id=str(draft.pk), action_flag=CHANGE)
    assert logged.get_change_message() == (
        "Added policy step “3. Director”. Changed Name and Time limit (hours) for policy step "
        "“2. Head of parks”. Deleted policy step “1. Clerk”."
    )


def test_steps_posted_with_an_active_version_change_nothing(client, root, bare_program):
    """The inline is read-only on an active version: steps in the POST are ignored, and the
    save drafts the next version with the active one's steps."""
    policy = make_policy(bare_program, governance.StepSpec(name="Supervisor"), code="parks")
    step = policy.steps.get()
    client.force_login(root)
    url = reverse("admin:governance_approvalpolicy_change", args=[policy.pk])
    client.post(url, _form(policy, _step(step, name="Renamed"), _step(order=2, name="Extra")))
    draft = ApprovalPolicy.objects.get(code="parks", version=2)
    assert list(policy.steps.values_list("name", flat=True)) == ["Supervisor"]
    assert list(draft.steps.values_list("name", flat=True)) == ["Supervisor"]
