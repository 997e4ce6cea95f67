"""Requests move to "funded" when an allocation round grants their claims, in bulk."""

from __future__ import annotations

import pytest
from django.core import mail

from allocations import services
from allocations.models import Claim, Fund
from core import events
from governance import services as governance
from service_requests.models import EventKind, NotifyState, RequestEvent, ServiceRequest, Status
from service_requests.services import funding
from tests.allocations.conftest import approved_round
from tests.builders import pending_approval, status_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def round_fund(rent_fund):  # type: ignore[no-untyped-def]
    Fund.objects.filter(pk=rent_fund.pk).update(allocates_by_round=True)
    rent_fund.refresh_from_db()
    return rent_fund


@pytest.fixture
def awaiting(civilian, reviewer, supervisor, rent_help, round_fund):  # type: ignore[no-untyped-def]
    """Three approved requests waiting for a round: 5,000.00, 3,000.00 and 2,000.00."""
    made = []
    for amount in (500_000, 300_000, 200_000):
        request, case = pending_approval(civilian, reviewer, rent_help, amount_minor=amount)
        governance.case_decide(
            actor=supervisor, case_id=case.pk, outcome="approve", reason="Eligible."
        )
        assert status_of(request) == Status.AWAITING_FUNDS
        made.append(ServiceRequest.objects.get(pk=request.pk))
    mail.outbox.clear()
    return made


def _commit(officer, supervisor, fund, **kwargs):  # type: ignore[no-untyped-def]
    round_ = approved_round(officer, supervisor, fund, **kwargs)
    return services.round_commit(actor=officer, round_id=round_.pk)


def test_a_committed_round_funds_its_requests_with_history_events_and_one_email_each(
    finance_officer, supervisor, round_fund, awaiting, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        # Max-min with 9,000.00: 2,000.00 and 3,000.00 in full, 4,000.00 of the 5,000.00.
        _commit(finance_officer, supervisor, round_fund, budget=900_000)
    partly, *full = awaiting
    assert [status_of(r) for r in awaiting] == [Status.FUNDED] * 3
    for request in awaiting:
        last = request.history.first()
        assert last.status == Status.FUNDED
        assert last.history_user == finance_officer
        assert last.history_change_reason == funding.REASON
    messages = {
        e.request_id: e.message
        for e in RequestEvent.objects.filter(kind=EventKind.FUNDED, notify=NotifyState.SENT)
    }
    assert messages[partly.pk] == (
        "$4,000.00 of the $5,000.00 you asked is now reserved for you: the fund could not pay "
        "every request in full. You will be told when it is paid."
    )
    assert [messages[r.pk] for r in full] == [
        "$3,000.00 is now reserved for you.",
        "$2,000.00 is now reserved for you.",
    ]
    assert sorted(m.subject for m in mail.outbox) == sorted(
        f"{r.tracking_number}: Approved, funds reserved" for r in awaiting
    )
    assert all(m.to == [r.contact_email] for m, r in zip(mail.outbox, awaiting, strict=True))


def test_a_request_whose_claim_got_nothing_keeps_waiting(
    finance_officer, supervisor, round_fund, awaiting, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        # Priority by submission with 6,000.00: the first two in full, nothing left for the third.
        _commit(finance_officer, supervisor, round_fund, rule="priority", budget=800_000)
    assert [status_of(r) for r in awaiting] == [Status.FUNDED, Status.FUNDED, Status.AWAITING_FUNDS]
    assert not RequestEvent.objects.filter(request=awaiting[2], kind=EventKind.FUNDED).exists()
    assert len(mail.outbox) == 2


def test_funding_runs_a_fixed_number_of_queries_and_a_second_call_moves_nothing(
    finance_officer,
    supervisor,
    round_fund,
    awaiting,
    monkeypatch,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    # Commit with nobody listening, then call the listener as the hook would.
    monkeypatch.setitem(events._handlers, events.CLAIMS_GRANTED, [])
    _commit(finance_officer, supervisor, round_fund, budget=900_000)
    claim_ids = [r.claim_id for r in awaiting]
    assert Claim.objects.filter(pk__in=claim_ids, granted_minor__gt=0).count() == 3
    # Lock and read the requests, read the grants, update them, insert their history rows,
    # insert their events: one query each however many requests there are.
    with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(5):
        moved = funding.requests_on_claims_granted(claim_ids=claim_ids, actor=finance_officer)
    assert sorted(moved) == sorted(r.pk for r in awaiting)
    assert len(callbacks) == 1
    with django_assert_num_queries(1):
        again = funding.requests_on_claims_granted(claim_ids=claim_ids, actor=finance_officer)
    assert again == []
    assert RequestEvent.objects.filter(kind=EventKind.FUNDED).count() == 3


def test_a_request_withdrawn_from_funding_is_left_as_it_is(
    finance_officer, supervisor, round_fund, awaiting, monkeypatch
):
    monkeypatch.setitem(events._handlers, events.CLAIMS_GRANTED, [])
    _commit(finance_officer, supervisor, round_fund, budget=900_000)
    # A request that no longer waits for money (fulfilled by other means, say) is not moved.
    ServiceRequest.objects.filter(pk=awaiting[0].pk).update(status=Status.FULFILLED)
    moved = funding.requests_on_claims_granted(
        claim_ids=[r.claim_id for r in awaiting], actor=finance_officer
    )
    assert sorted(moved) == sorted(r.pk for r in awaiting[1:])
    assert status_of(awaiting[0]) == Status.FULFILLED


def test_the_listener_is_registered_when_the_app_starts():
    assert funding.requests_on_claims_granted in events._handlers[events.CLAIMS_GRANTED]
