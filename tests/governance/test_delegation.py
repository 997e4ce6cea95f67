"""Delegation of authority: grants in history, revocation, expiry by the beat task, scope,
no re-delegation, overlap, and "A on behalf of B"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.audit import SYSTEM_USERNAME
from governance import services as governance
from governance import tasks
from governance.models import (
    DELEGATED_PERMISSION,
    Delegation,
    ProgramUserObjectPermission,
)
from tests.governance.conftest import decide, delegate_to, make_policy, open_case, staff

Step = governance.StepSpec


@pytest.fixture
def program(bare_program: Any) -> Any:
    make_policy(bare_program, Step(name="A"), Step(name="B"))
    return bare_program


@pytest.fixture
def boss(program: Any) -> Any:
    return staff("boss", program=program)


@pytest.fixture
def deputy(db: Any) -> Any:
    return staff("deputy")


def _grants(user: Any, program: Any) -> Any:
    return ProgramUserObjectPermission.history.filter(
        user_id=user.pk,
        content_object_id=program.pk,
        permission__codename="decide_program_delegated",
    ).order_by("history_id")


def test_an_active_delegation_is_a_recorded_guardian_grant(program, boss, deputy):
    delegation = delegate_to(boss, deputy, program)
    assert deputy.has_perm(DELEGATED_PERMISSION, program)
    assert not deputy.has_perm("governance.decide_program", program)
    assert [(h.history_type, h.history_user) for h in _grants(deputy, program)] == [("+", boss)]
    assert delegation.history.latest().history_user == boss


def test_revocation_removes_the_permission_at_once_and_is_recorded(program, boss, deputy):
    delegation = delegate_to(boss, deputy, program)
    maker = staff("maker")
    case = open_case(program, maker)
    governance.delegation_revoke(actor=boss, delegation_id=delegation.pk, reason="Back early")
    deputy = type(deputy).objects.get(pk=deputy.pk)  # a fresh permission cache
    assert not deputy.has_perm(DELEGATED_PERMISSION, program)
    assert [(h.history_type, h.history_user) for h in _grants(deputy, program)] == [
        ("+", boss),
        ("-", boss),
    ]
    with pytest.raises(governance.GovernanceError, match="was revoked"):
        decide(deputy, case)
    with pytest.raises(governance.GovernanceError, match="already ended"):
        governance.delegation_revoke(actor=boss, delegation_id=delegation.pk)


def test_only_the_delegator_or_an_administrator_revokes(program, boss, deputy):
    delegation = delegate_to(boss, deputy, program)
    for person in (deputy, staff("someone", program=program)):
        with pytest.raises(governance.GovernanceError, match="Only the delegator"):
            governance.delegation_revoke(actor=person, delegation_id=delegation.pk)
    admin = staff("root")
    admin.is_superuser = True
    admin.save()
    governance.delegation_revoke(actor=admin, delegation_id=delegation.pk)


def test_the_beat_task_removes_an_expired_grant_and_writes_history(program, boss, deputy):
    delegation = delegate_to(boss, deputy, program)
    Delegation.objects.filter(pk=delegation.pk).update(
        ends_at=timezone.now() - timedelta(seconds=1)
    )
    result = tasks.sync_delegations.delay().get()
    assert result == {"granted": 0, "removed": 1}
    deputy = type(deputy).objects.get(pk=deputy.pk)
    assert not deputy.has_perm(DELEGATED_PERMISSION, program)
    removal = _grants(deputy, program).last()
    assert (removal.history_type, removal.history_user.username) == ("-", SYSTEM_USERNAME)
    latest = Delegation.history.filter(id=delegation.pk).latest()
    assert latest.permission_granted is False
    assert latest.history_user.username == SYSTEM_USERNAME
    assert tasks.sync_delegations.delay().get() == {"granted": 0, "removed": 0}


def test_a_future_delegation_is_granted_by_the_beat_task_when_it_starts(program, boss, deputy):
    now = timezone.now()
    delegation = delegate_to(
        boss, deputy, program, starts_at=now + timedelta(hours=1), ends_at=now + timedelta(days=1)
    )
    assert not deputy.has_perm(DELEGATED_PERMISSION, program)
    assert governance.delegations_sync(actor=boss, now=now) == {"granted": 0, "removed": 0}
    later = now + timedelta(hours=2)
    Delegation.objects.filter(pk=delegation.pk).update(starts_at=now - timedelta(minutes=1))
    assert governance.delegations_sync(actor=boss, now=later) == {"granted": 1, "removed": 0}
    assert deputy.has_perm(DELEGATED_PERMISSION, program)


def test_a_permission_shared_by_two_delegations_stays_while_one_is_active(program, boss, deputy):
    other_boss = staff("other-boss", program=program)
    first = delegate_to(boss, deputy, program)
    delegate_to(other_boss, deputy, program)
    governance.delegation_revoke(actor=boss, delegation_id=first.pk)
    assert deputy.has_perm(DELEGATED_PERMISSION, program)


def test_a_delegate_cannot_delegate_again(program, boss, deputy):
    delegate_to(boss, deputy, program)
    with pytest.raises(governance.GovernanceError, match="cannot be delegated again"):
        delegate_to(deputy, staff("third"), program)


def test_overlapping_delegations_for_the_same_scope_are_refused(program, boss, deputy):
    delegate_to(boss, deputy, program)
    with pytest.raises(governance.GovernanceError, match="already has a delegation"):
        delegate_to(boss, staff("second-deputy"), program)
    # Another scope (a single step) or a later window is fine.
    delegate_to(boss, staff("step-deputy"), program, step_order=2)
    now = timezone.now()
    delegate_to(
        boss, deputy, program, starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=4)
    )


@pytest.mark.postgres
def test_postgresql_refuses_overlapping_delegations_even_past_the_service(
    require_postgres, program, boss, deputy
):
    first = delegate_to(boss, deputy, program)
    values = {
        f.attname: getattr(first, f.attname)
        for f in Delegation._meta.concrete_fields
        if f.attname not in ("id", "delegate_id", "created_at")
    }
    other = staff("racer")
    with (
        pytest.raises(IntegrityError, match="governance_delegation_no_overlap"),
        transaction.atomic(),
    ):
        Delegation.objects.create(**values, delegate_id=other.pk)
    assert connection.vendor == "postgresql"


def test_a_decision_under_delegation_names_delegate_and_delegator(program, boss, deputy):
    delegate_to(boss, deputy, program)
    case = open_case(program, staff("maker"))
    decision = decide(deputy, case)
    assert decision.on_behalf_of == boss
    assert decision.delegation is not None
    assert decision.decided_by_label == (
        f"{deputy.get_full_name()} on behalf of {boss.get_full_name()}"
    )
    # The delegator's authority was used on this case: they cannot decide the next step.
    with pytest.raises(governance.GovernanceError, match="already decided"):
        decide(boss, case)


def test_separation_of_duties_holds_for_the_delegate_and_the_delegator(program, boss, deputy):
    delegate_to(boss, deputy, program)
    own = open_case(program, deputy)
    with pytest.raises(governance.GovernanceError, match="You submitted this"):
        decide(deputy, own)
    bosses = open_case(program, boss)
    with pytest.raises(governance.GovernanceError, match="a delegate of theirs cannot"):
        decide(deputy, bosses)
    recommended = open_case(program, staff("m2"), recommender=boss)
    with pytest.raises(governance.GovernanceError, match="recommended this"):
        decide(deputy, recommended)
    # The delegator decided step A in person: their delegate may not add step B for them.
    case = open_case(program, staff("m3"))
    decide(boss, case)
    with pytest.raises(governance.GovernanceError, match="has already decided on this case"):
        decide(deputy, case)


def test_a_delegation_ends_with_the_delegators_authority(program, boss, deputy):
    from guardian.shortcuts import remove_perm

    delegate_to(boss, deputy, program)
    case = open_case(program, staff("maker"))
    remove_perm("governance.decide_program", boss, program)
    with pytest.raises(governance.GovernanceError, match="no longer holds the authority"):
        decide(deputy, case)


def test_a_delegation_limited_to_a_step_covers_only_that_step(program, boss, deputy):
    delegate_to(boss, deputy, program, step_order=2)
    case = open_case(program, staff("maker"))
    with pytest.raises(governance.GovernanceError, match="does not cover"):
        decide(deputy, case)
    decide(staff("first", program=program), case)
    decide(deputy, case)


def _refused(actor: Any, case: Any) -> governance.GovernanceError:
    with pytest.raises(governance.GovernanceError) as refused:
        governance.case_validate_decider(actor=actor, case=case)
    return refused.value


def test_the_refusal_names_what_the_nearest_delegation_lacks(program, boss, deputy):
    from guardian.shortcuts import remove_perm

    case = open_case(program, staff("maker"), amount_minor=10_000)
    assert _refused(deputy, case).code == "no_authority"

    # A delegation for another step says least; a ceiling below the amount goes further.
    delegate_to(boss, deputy, program, step_order=2)
    assert _refused(deputy, case).code == "delegation_scope"
    second = staff("second", program=program)
    low = delegate_to(second, deputy, program, ceiling_minor=5_000)
    refused = _refused(deputy, case)
    assert (refused.code, refused.messages[0]) == (
        "delegation_ceiling",
        "This case's amount ($100.00) is above the ceiling of your delegation from "
        f"{second.get_full_name()} ($50.00).",
    )
    governance.delegation_revoke(actor=second, delegation_id=low.pk)

    # Another currency is above any ceiling; a window not yet open is named before it.
    third = staff("third", program=program)
    delegate_to(third, deputy, program, currency="EUR")
    assert _refused(deputy, case).code == "delegation_ceiling"
    later = timezone.now() + timedelta(days=1)
    fourth = staff("fourth", program=program)
    delegate_to(fourth, deputy, program, starts_at=later, ends_at=later + timedelta(days=1))
    assert _refused(deputy, case).code == "delegation_ceiling"  # the further one still wins

    # In force and in scope, but the delegate's permission is not (yet) there.
    fifth = staff("fifth", program=program)
    delegate_to(fifth, deputy, program)
    remove_perm(DELEGATED_PERMISSION, deputy, program)
    deputy = type(deputy).objects.get(pk=deputy.pk)
    assert _refused(deputy, case).code == "delegation_not_granted"


def test_a_delegation_not_yet_started_says_when_it_starts(program, boss, deputy):
    case = open_case(program, staff("maker"))
    later = timezone.now() + timedelta(days=1)
    delegate_to(boss, deputy, program, starts_at=later, ends_at=later + timedelta(days=1))
    refused = _refused(deputy, case)
    assert refused.code == "delegation_not_started"
    assert f"from {boss.get_full_name()} starts on" in refused.messages[0]


# --- the screen ------------------------------------------------------------------------------


def test_delegations_screen_gives_lists_and_revokes(client, program, boss, deputy):
    client.force_login(boss)
    page = client.get("/workflow/delegations/")
    assert page.status_code == 200
    now = timezone.localtime()
    response = client.post(
        "/workflow/delegations/",
        {
            "delegate": deputy.pk,
            "program": program.pk,
            "ceiling": "2,500.00",
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "Annual leave",
        },
    )
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert (delegation.ceiling_minor, delegation.delegator) == (250_000, boss)
    again = client.post(
        "/workflow/delegations/",
        {
            "delegate": staff("another").pk,
            "program": program.pk,
            "ceiling": "10",
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "Overlap",
        },
    )
    assert again.status_code == 400
    assert "already has a delegation" in again.content.decode()
    client.force_login(deputy)
    received = client.get("/workflow/delegations/").content.decode()
    assert "Annual leave" in received
    assert client.post(f"/workflow/delegations/{delegation.pk}/revoke/").status_code == 404
    client.force_login(boss)
    assert (
        client.post(f"/workflow/delegations/{delegation.pk}/revoke/", {"reason": "x"}).status_code
        == 302
    )
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None


def test_delegations_screen_refuses_anonymous_and_civilians(client, civilian):
    assert client.get("/workflow/delegations/").status_code == 302
    client.force_login(civilian)
    assert client.get("/workflow/delegations/").status_code == 404
