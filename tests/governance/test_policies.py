"""Approval policies: matching, versions, steps, modes, thresholds, outcomes and blocking."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError

from core.audit import system_user
from governance import services as governance
from governance.models import (
    ApprovalPolicy,
    CaseEvent,
    CaseStatus,
    CaseStepStatus,
    Decision,
    PolicyStatus,
    PolicyStep,
)
from tests.factories import UserFactory
from tests.governance.conftest import (
    OUTCOMES,
    decide,
    make_policy,
    open_case,
    staff,
)

Step = governance.StepSpec


@pytest.fixture
def maker(db):  # type: ignore[no-untyped-def]
    return staff("maker")


@pytest.fixture
def sup(bare_program):  # type: ignore[no-untyped-def]
    return staff("sup", program=bare_program)


@pytest.fixture
def sup2(bare_program):  # type: ignore[no-untyped-def]
    return staff("sup2", program=bare_program)


@pytest.fixture
def sup3(bare_program):  # type: ignore[no-untyped-def]
    return staff("sup3", program=bare_program)


def test_without_a_policy_the_case_opens_blocked_and_administrators_are_told(
    bare_program, maker, sup, django_capture_on_commit_callbacks
):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case(bare_program, maker)
    assert case.status == CaseStatus.BLOCKED
    assert "No active approval policy covers Parks" in case.blocked_reason
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert f"case {case.pk} is blocked" in mail.outbox[0].subject
    with pytest.raises(governance.GovernanceError, match="This case is blocked"):
        decide(sup, case)
    assert not Decision.objects.exists()
    assert OUTCOMES == []

    # Once a policy exists an administrator puts the case under it; it is never approved by default.
    make_policy(bare_program, Step(name="Supervisor"))
    with pytest.raises(governance.GovernanceError, match="administrator"):
        governance.case_apply_policy(actor=sup, case_id=case.pk)
    case = governance.case_apply_policy(actor=admin, case_id=case.pk)
    assert case.status == CaseStatus.OPEN
    decide(sup, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED


def test_a_case_keeps_the_version_it_opened_under(bare_program, maker, sup, sup2):
    v1 = make_policy(bare_program, Step(name="One"), code="parks")
    old = open_case(bare_program, maker)
    v2 = governance.policy_new_version(actor=system_user(), policy_id=v1.pk)
    governance.step_add(actor=system_user(), policy=v2, spec=Step(name="Two"))
    governance.policy_activate(actor=system_user(), policy_id=v2.pk)
    v1.refresh_from_db()
    assert (v1.status, v2.version) == (PolicyStatus.RETIRED, 2)
    new = open_case(bare_program, maker)
    assert (old.policy_id, new.policy_id) == (v1.pk, v2.pk)
    decide(sup, old)
    decide(sup, new)
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.status == CaseStatus.APPROVED
    assert new.status == CaseStatus.OPEN
    assert new.current_step.order == 2


def test_an_active_version_cannot_be_changed(bare_program):
    policy = make_policy(bare_program, Step(name="One"))
    with pytest.raises(governance.GovernanceError, match="cannot be changed"):
        governance.step_add(actor=system_user(), policy=policy, spec=Step(name="Sneaky"))
    assert policy.steps.count() == 1


def test_a_drafts_steps_change_all_together_or_not_at_all(bare_program):
    actor = system_user()
    draft = governance.policy_create(
        actor=actor, program=bare_program, code="parks", name="Parks", steps=[Step(name="One")]
    )
    one = draft.steps.get()
    quorum_without_k = Step(name="Panel", mode="quorum")
    with pytest.raises(ValidationError):
        governance.policy_steps_save(
            actor=actor,
            policy_id=draft.pk,
            edits=[governance.StepEdit(order=1, spec=quorum_without_k)],
            removed=[one.pk],
        )
    assert list(draft.steps.values_list("pk", "name")) == [(one.pk, "One")]
    saved = governance.policy_steps_save(
        actor=actor,
        policy_id=draft.pk,
        edits=[
            governance.StepEdit(order=1, spec=Step(name="Uno"), step_id=one.pk),
            governance.StepEdit(order=2, spec=Step(name="Dos", sla_hours=24)),
        ],
    )
    assert [(s.order, s.name) for s in saved] == [(1, "Uno"), (2, "Dos")]
    assert saved[0].pk == one.pk


def test_only_a_drafts_own_steps_are_edited_and_only_while_it_is_a_draft(bare_program):
    actor = system_user()
    active = make_policy(bare_program, Step(name="One"), code="active")
    draft = governance.policy_create(
        actor=actor, program=bare_program, code="draft", name="Draft", steps=[Step(name="One")]
    )
    foreign = active.steps.get()
    with pytest.raises(governance.GovernanceError, match="cannot be changed"):
        governance.policy_steps_save(actor=actor, policy_id=active.pk, removed=[foreign.pk])
    with pytest.raises(PolicyStep.DoesNotExist):
        governance.policy_steps_save(actor=actor, policy_id=draft.pk, removed=[foreign.pk])
    edit = governance.StepEdit(order=5, spec=Step(name="Moved"), step_id=foreign.pk)
    with pytest.raises(PolicyStep.DoesNotExist):
        governance.policy_steps_save(actor=actor, policy_id=draft.pk, edits=[edit])
    with pytest.raises(governance.GovernanceError, match="administrator"):
        governance.policy_steps_save(actor=staff("clerk"), policy_id=draft.pk)
    assert list(active.steps.values_list("name", "order")) == [("One", 1)]


def test_every_version_of_a_code_is_numbered_by_one_path(bare_program):
    """`policy_create`, `policy_new_version` and the admin's new policy number versions alike,
    each the next of its code."""
    actor = system_user()
    v1 = make_policy(bare_program, Step(name="One"), code="parks")
    v2 = governance.policy_create(
        actor=actor, program=bare_program, code="parks", name="Parks 2", steps=[Step(name="A")]
    )
    v3 = governance.policy_new_version(actor=actor, policy_id=v1.pk, changes={"name": "Parks 3"})
    v4 = governance.policy_draft_save(
        actor=actor, policy=ApprovalPolicy(code="parks", name="Parks 4", program=bare_program)
    )
    assert [(p.version, p.status, p.created_by) for p in (v2, v3, v4)] == [
        (2, PolicyStatus.DRAFT, actor),
        (3, PolicyStatus.DRAFT, actor),
        (4, PolicyStatus.DRAFT, actor),
    ]
    assert list(v3.steps.values_list("order", "name")) == [(1, "One")]
    renamed = governance.policy_new_version(
        actor=actor, policy_id=v1.pk, changes={"code": "gardens"}
    )
    assert (renamed.code, renamed.version) == ("gardens", 1)
    with pytest.raises(ValueError, match="status"):
        governance.policy_new_version(actor=actor, policy_id=v1.pk, changes={"status": "active"})


def test_two_active_policies_may_not_cover_the_same_cases(bare_program):
    make_policy(bare_program, Step(name="One"), code="a", amount_max_minor=50_000)
    with pytest.raises(governance.GovernanceError, match="already covers"):
        make_policy(bare_program, Step(name="One"), code="b", amount_min_minor=40_000)
    make_policy(bare_program, Step(name="One"), code="c", amount_min_minor=50_001)


def test_the_most_specific_active_policy_applies(bare_program, maker):
    general = make_policy(bare_program, Step(name="Any"), code="general")
    by_kind = make_policy(bare_program, Step(name="Kind"), code="kind", subject_kind="test_subject")
    by_key = make_policy(
        bare_program,
        Step(name="Key"),
        code="key",
        subject_kind="test_subject",
        scope_key="rent-help",
        amount_max_minor=99_999,
    )
    big = make_policy(
        bare_program,
        Step(name="Big"),
        code="big",
        subject_kind="test_subject",
        scope_key="rent-help",
        amount_min_minor=100_000,
    )
    assert open_case(bare_program, maker, kind="other").policy == general
    assert open_case(bare_program, maker).policy == by_kind
    assert (
        open_case(bare_program, maker, scope_key="rent-help", amount_minor=5_000).policy == by_key
    )
    assert open_case(bare_program, maker, scope_key="rent-help", amount_minor=200_000).policy == big


def test_a_step_above_its_threshold_only_applies_to_larger_amounts(bare_program, maker, sup, sup2):
    make_policy(
        bare_program,
        Step(name="Supervisor"),
        Step(name="Director", threshold_minor=100_000),
    )
    small = open_case(bare_program, maker, amount_minor=100_000)
    assert [s.status for s in small.steps.order_by("order")] == [
        CaseStepStatus.OPEN,
        CaseStepStatus.SKIPPED,
    ]
    decide(sup, small)
    small.refresh_from_db()
    assert small.status == CaseStatus.APPROVED
    large = open_case(bare_program, maker, amount_minor=100_001)
    decide(sup, large)
    large.refresh_from_db()
    assert large.status == CaseStatus.OPEN
    decide(sup2, large)
    large.refresh_from_db()
    assert large.status == CaseStatus.APPROVED
    assert [o[1] for o in OUTCOMES] == ["approve", "approve"]


def test_when_no_step_applies_the_case_is_blocked(bare_program, maker):
    make_policy(bare_program, Step(name="Only big", threshold_minor=1_000_000))
    case = open_case(bare_program, maker, amount_minor=10)
    assert case.status == CaseStatus.BLOCKED
    assert "No step of the policy" in case.blocked_reason


def test_a_quorum_step_needs_k_approvals(bare_program, maker, sup, sup2, sup3):
    make_policy(bare_program, Step(name="Board", mode="quorum", quorum=2, quorum_of=3))
    case = open_case(bare_program, maker)
    decide(sup, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert case.current_step.approvals == 1
    assert OUTCOMES == []
    decide(sup2, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED
    with pytest.raises(governance.GovernanceError, match="already decided"):
        decide(sup3, case)


def test_an_all_step_needs_everyone_who_could_decide_when_it_opened(
    bare_program, maker, sup, sup2, sup3
):
    make_policy(bare_program, Step(name="Everyone", mode="all"))
    case = open_case(bare_program, maker)
    assert case.current_step.required_approvals == 3
    for person in (sup, sup2):
        decide(person, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    decide(sup3, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED


def test_one_reject_ends_the_case_at_any_step(bare_program, maker, sup, sup2):
    make_policy(bare_program, Step(name="A"), Step(name="B"))
    case = open_case(bare_program, maker)
    decide(sup, case)
    decide(sup2, case, "reject", "Out of scope")
    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    assert [(case.pk, "reject", "sup2")] == OUTCOMES


def test_return_needs_a_reason_and_hands_the_subject_back(bare_program, maker, sup):
    make_policy(bare_program, Step(name="A"))
    case = open_case(bare_program, maker)
    with pytest.raises(governance.GovernanceError, match="Give a reason"):
        decide(sup, case, "return", " ")
    decide(sup, case, "return", "Missing the lease")
    case.refresh_from_db()
    assert case.status == CaseStatus.RETURNED
    assert [(case.pk, "return", "sup")] == OUTCOMES
    assert case.events.filter(kind="closed", message__contains="Missing the lease").exists()


def test_reason_rules_follow_the_step(bare_program, maker, sup):
    make_policy(bare_program, Step(name="A", reason_on_approve=False, reason_on_reject=True))
    case = open_case(bare_program, maker)
    with pytest.raises(governance.GovernanceError, match="Give a reason"):
        decide(sup, case, "reject", "")
    decide(sup, case, "approve", "")
    assert Decision.objects.get().reason == ""


def test_the_maker_may_recall_before_the_first_decision_only(bare_program, maker, sup, sup2):
    make_policy(bare_program, Step(name="A"), Step(name="B"))
    case = open_case(bare_program, maker)
    with pytest.raises(governance.GovernanceError, match="Only the person who submitted"):
        governance.case_recall(actor=sup, case_id=case.pk)
    governance.case_recall(actor=maker, case_id=case.pk, reason="Filed twice")
    case.refresh_from_db()
    assert case.status == CaseStatus.RECALLED
    assert [(case.pk, "recall", "maker")] == OUTCOMES

    decided = open_case(bare_program, maker)
    decide(sup, decided)
    with pytest.raises(governance.GovernanceError, match="can no longer be recalled"):
        governance.case_recall(actor=maker, case_id=decided.pk)


def test_a_group_step_is_decided_by_the_group_only(bare_program, maker, sup):
    directors = Group.objects.create(name="directors")
    director = staff("dora", groups=(directors,))
    make_policy(
        bare_program,
        Step(name="Supervisor"),
        Step(name="Director", approver_kind="group", group=directors),
    )
    case = open_case(bare_program, maker)
    with pytest.raises(governance.GovernanceError, match="do not hold the authority"):
        decide(director, case)
    decide(sup, case)
    other_sup = staff("sid", program=bare_program)
    with pytest.raises(governance.GovernanceError, match="step “Director”"):
        decide(other_sup, case)
    decide(director, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED


def test_the_timeline_records_every_step(bare_program, maker, sup, sup2):
    make_policy(bare_program, Step(name="A"), Step(name="B"))
    case = open_case(bare_program, maker)
    decide(sup, case)
    decide(sup2, case)
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == [
        "opened",
        "step_opened",
        "decision",
        "step_approved",
        "step_opened",
        "decision",
        "step_approved",
        "closed",
    ]
