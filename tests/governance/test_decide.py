"""Deciding approval cases: authority, separation of duties, one decision, and its effects."""

from __future__ import annotations

import pytest
from django.core import mail

from allocations.models import ClaimStatus
from governance import services
from governance.models import ApprovalCase, CaseStatus, Decision, Outcome
from ledger.models import Account
from service_requests.models import ServiceRequest
from tests.builders import pending_approval, status_of


@pytest.fixture
def case(civilian, reviewer, rent_help):  # type: ignore[no-untyped-def]
    return pending_approval(civilian, reviewer, rent_help, amount_minor=120_000)[1]


def test_approval_grants_the_claim_and_reserves_the_money(
    case, supervisor, rent_fund, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.case_decide(
            actor=supervisor, case_id=case.pk, outcome=Outcome.APPROVE, reason="Eligible"
        )
    request = ServiceRequest.objects.get(approval_case=case)
    assert status_of(request) == "funded"
    assert request.claim.status == ClaimStatus.GRANTED
    fund = Account.objects.get(pk=rent_fund.account_id)
    assert fund.debits_pending == 120_000
    assert fund.available_minor == 1_000_000 - 120_000
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED
    assert case.history.latest().history_user == supervisor
    assert [m.to for m in mail.outbox] == [[request.contact_email]]
    assert "reserved" in mail.outbox[0].body


def test_rejection_needs_a_reason_and_tells_the_civilian(
    case, supervisor, django_capture_on_commit_callbacks
):
    with pytest.raises(services.GovernanceError, match="Give a reason"):
        services.case_decide(actor=supervisor, case_id=case.pk, outcome=Outcome.REJECT, reason="  ")
    assert not Decision.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.case_decide(
            actor=supervisor,
            case_id=case.pk,
            outcome=Outcome.REJECT,
            reason="Income above the limit",
        )
    request = ServiceRequest.objects.get(approval_case=case)
    assert status_of(request) == "rejected"
    assert request.claim is None
    assert "Income above the limit" in mail.outbox[-1].body


def test_reviewer_without_authority_cannot_decide(case, reviewer, outsider_supervisor):
    for person in (reviewer, outsider_supervisor):
        with pytest.raises(services.GovernanceError, match="do not hold the authority"):
            services.case_decide(
                actor=person, case_id=case.pk, outcome=Outcome.APPROVE, reason="ok"
            )
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not Decision.objects.exists()


def test_nobody_approves_a_request_they_submitted(supervisor, reviewer, rent_help):
    """A supervisor who files a request of their own cannot approve it."""
    _, own_case = pending_approval(supervisor, reviewer, rent_help, amount_minor=10_000)
    with pytest.raises(services.GovernanceError, match="You submitted this service request"):
        services.case_decide(
            actor=supervisor, case_id=own_case.pk, outcome=Outcome.APPROVE, reason="mine"
        )
    assert ApprovalCase.objects.get(pk=own_case.pk).status == CaseStatus.OPEN


def test_nobody_approves_what_they_recommended(civilian, supervisor, rent_help):
    """The supervisor reviewed and recommended this one, so another supervisor must decide."""
    _, own_case = pending_approval(civilian, supervisor, rent_help, amount_minor=10_000)
    with pytest.raises(services.GovernanceError, match="You recommended this"):
        services.case_decide(
            actor=supervisor, case_id=own_case.pk, outcome=Outcome.APPROVE, reason="ok"
        )
    assert not Decision.objects.exists()


def test_a_case_is_decided_once(case, supervisor, housing):
    from guardian.shortcuts import assign_perm

    from tests.factories import UserFactory

    second = UserFactory(username="second-supervisor", is_staff=True)
    assign_perm("governance.decide_program", second, housing)
    services.case_decide(actor=supervisor, case_id=case.pk, outcome=Outcome.APPROVE, reason="ok")
    with pytest.raises(services.GovernanceError, match="already decided on this case"):
        services.case_decide(actor=supervisor, case_id=case.pk, outcome=Outcome.REJECT, reason="no")
    with pytest.raises(services.GovernanceError, match="already decided \\(approved\\)"):
        services.case_decide(actor=second, case_id=case.pk, outcome=Outcome.REJECT, reason="no")
    assert Decision.objects.count() == 1


def test_approving_more_than_the_fund_holds_leaves_the_request_awaiting_funds(
    civilian, reviewer, supervisor, rent_help, rent_fund
):
    requests = [
        pending_approval(civilian, reviewer, rent_help, amount_minor=450_000) for _ in range(3)
    ]
    for _, c in requests:
        services.case_decide(actor=supervisor, case_id=c.pk, outcome=Outcome.APPROVE, reason="ok")
    statuses = [status_of(r) for r, _ in requests]
    assert statuses == ["funded", "funded", "awaiting_funds"]
    fund = Account.objects.get(pk=rent_fund.account_id)
    assert fund.available_minor == 100_000
