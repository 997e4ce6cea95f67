"""Separation of duties on allocation rounds: a finance officer of the round's fund never
approves that round, directly or through a delegate; anyone else with the authority may."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from guardian.shortcuts import assign_perm

from allocations import services as allocations
from allocations.models import RoundState
from governance import selectors as governance_selectors
from governance import services as governance
from tests.allocations.conftest import computed_round, state_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def round_under_approval(officer, round_fund, waiting_claims, supervisor, root):  # type: ignore[no-untyped-def]
    """A round of the rent fund before the supervisors, the supervisor named one of the
    fund's finance officers."""
    allocations.fund_officers_set(actor=root, fund_id=round_fund.pk, officer_ids=[supervisor.pk])
    round_ = computed_round(officer, round_fund)
    return allocations.round_send_for_approval(actor=officer, round_id=round_.pk)


def _other_supervisor(program):  # type: ignore[no-untyped-def]
    other = UserFactory(username="vera", is_staff=True)
    assign_perm("governance.decide_program", other, program)
    return other


def test_a_finance_officer_of_the_fund_cannot_approve_its_round(  # type: ignore[no-untyped-def]
    round_under_approval, supervisor, round_fund
):
    case_id = round_under_approval.approval_case_id
    listed = governance_selectors.case_inbox(user=supervisor).cases.values_list("pk", flat=True)
    assert case_id not in set(listed)
    with pytest.raises(governance.GovernanceError, match="Separation of duties") as refused:
        governance.case_decide(actor=supervisor, case_id=case_id, outcome="approve", reason="ok")
    assert "Approve their own fund's rounds" in refused.value.messages[0]
    assert state_of(round_under_approval) == RoundState.UNDER_APPROVAL
    other = _other_supervisor(round_fund.program)
    governance.case_decide(actor=other, case_id=case_id, outcome="approve", reason="Matches.")
    assert state_of(round_under_approval) == RoundState.APPROVED


def test_a_delegate_of_the_fund_s_officer_cannot_approve_its_round_either(  # type: ignore[no-untyped-def]
    round_under_approval, supervisor, round_fund
):
    now = timezone.now()
    delegate = UserFactory(username="dora", is_staff=True)
    governance.delegation_create(
        actor=supervisor,
        delegate=delegate,
        program=round_fund.program,
        ceiling_minor=10_000_000,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
        reason="On leave",
    )
    with pytest.raises(governance.GovernanceError, match="Separation of duties"):
        governance.case_decide(
            actor=delegate,
            case_id=round_under_approval.approval_case_id,
            outcome="approve",
            reason="ok",
        )
    assert state_of(round_under_approval) == RoundState.UNDER_APPROVAL


def test_the_officer_decides_rounds_of_other_funds(  # type: ignore[no-untyped-def]
    officer, round_fund, waiting_claims, supervisor
):
    """The rule is about the fund they answer for, not the finance officer role."""
    round_ = computed_round(officer, round_fund)
    round_ = allocations.round_send_for_approval(actor=officer, round_id=round_.pk)
    governance.case_decide(
        actor=supervisor, case_id=round_.approval_case_id, outcome="approve", reason="ok"
    )
    assert state_of(round_) == RoundState.APPROVED


def test_only_an_administrator_names_a_fund_s_officers(round_fund, officer, root):  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        allocations.fund_officers_set(
            actor=officer, fund_id=round_fund.pk, officer_ids=[officer.pk]
        )
    fund = allocations.fund_officers_set(
        actor=root, fund_id=round_fund.pk, officer_ids=[officer.pk]
    )
    assert list(fund.officers.all()) == [officer]
    assert fund.history.first().history_user == root
