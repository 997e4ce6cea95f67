"""Each fact the other apps announce (`core.events`) becomes its webhook event, written in the
announcer's transaction for the subscribers that may see it; a batch writes its events together."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import events as facts
from governance import services as governance
from governance.models import ApprovalCase
from integrations.models import Delivery, Event, Subscription
from ledger.models import Transfer
from service_requests.models import Status
from tests.builders import ledger_account, move, pending_approval, submitted
from tests.ledger.test_clearing import media, settled, world  # noqa: F401
from tests.service_requests.test_funding import _commit, awaiting, round_fund  # noqa: F401

pytestmark = pytest.mark.django_db

HOOK = "https://receiver.example/hook"


def _subscribe(client: Any, event_type: str) -> Subscription:
    return Subscription.objects.create(
        client=client.api_client, event_types=[event_type], target_url=HOOK
    )


def _told(event: Event) -> set[int]:
    """The clients an event was addressed to."""
    return set(Delivery.objects.filter(event=event).values_list("subscription__client", flat=True))


def test_a_submitted_request_is_told_to_its_requester_and_the_staff_who_see_it(
    make_client, civilian, reviewer, outsider_supervisor, inspection
):
    request = submitted(civilian, inspection)
    clients = [make_client(u) for u in (civilian, reviewer, outsider_supervisor)]
    for client in clients:
        _subscribe(client, "request.submitted")
    with transaction.atomic():
        facts.announce(facts.REQUEST_SUBMITTED, request=request)
    (event,) = Event.objects.filter(type="request.submitted")
    assert event.payload["tracking_number"] == request.tracking_number
    assert event.payload["service_type"] == inspection.code
    assert event.payload["status"] == "submitted"
    assert civilian.email not in str(event.payload)
    assert _told(event) == {clients[0].api_client.pk, clients[1].api_client.pk}


def test_a_status_change_is_told_with_the_previous_status_and_the_transition(
    make_client, civilian, reviewer, inspection
):
    request = submitted(civilian, inspection)
    client = make_client(reviewer)
    _subscribe(client, "request.status_changed")
    before = timezone.now()
    with transaction.atomic():
        facts.announce(
            facts.REQUEST_STATUS_CHANGED,
            request=request,
            source=Status.SUBMITTED,
            target=Status.IN_REVIEW,
            transition="start_review",
        )
        facts.announce(  # a transition to the same status says nothing
            facts.REQUEST_STATUS_CHANGED,
            request=request,
            source=Status.SUBMITTED,
            target=Status.SUBMITTED,
            transition="assign",
        )
    (event,) = Event.objects.filter(type="request.status_changed")
    assert event.payload["tracking_number"] == request.tracking_number
    assert event.payload["previous_status"] == "submitted"
    assert event.payload["transition"] == "start_review"
    changed_at = parse_datetime(event.payload["changed_at"])
    assert changed_at is not None
    # The payload's times are to the millisecond.
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= changed_at
    assert changed_at <= timezone.now()
    assert _told(event) == {client.api_client.pk}


def test_a_decided_case_is_told_to_the_clients_of_its_programs_people(
    make_client, civilian, reviewer, supervisor, outsider_supervisor, inspection
):
    _, case = pending_approval(civilian, reviewer, inspection)
    governance.case_decide(actor=supervisor, case_id=case.pk, outcome="approve", reason="Ok.")
    case = ApprovalCase.objects.get(pk=case.pk)
    own, other = make_client(supervisor), make_client(outsider_supervisor)
    for client in (own, other):
        _subscribe(client, "case.decided")
    with transaction.atomic():
        facts.announce(facts.CASE_DECIDED, case=case, outcome="approved")
    (event,) = Event.objects.filter(type="case.decided")
    assert event.payload["case"] == case.pk
    assert event.payload["status"] == "approved"
    assert event.payload["program"] == "housing"
    assert _told(event) == {own.api_client.pk}


def test_a_committed_round_is_told_with_what_it_granted(
    make_client,
    finance_officer,
    supervisor,
    reviewer,
    round_fund,  # noqa: F811  (the funding tests' fixture)
    awaiting,  # noqa: F811  (the funding tests' fixture)
):
    # Max-min with 9,000.00: 2,000.00 and 3,000.00 in full, 4,000.00 of the 5,000.00.
    round_ = _commit(finance_officer, supervisor, round_fund, budget=900_000)
    finance, staff = make_client(finance_officer), make_client(reviewer)
    for client in (finance, staff):
        _subscribe(client, "round.committed")
    with transaction.atomic():
        facts.announce(facts.ROUND_COMMITTED, round=round_)
    (event,) = Event.objects.filter(type="round.committed")
    assert event.payload == {
        "round": round_.pk,
        "fund": round_fund.code,
        "rule": round_.rule,
        "budget_minor": 900_000,
        "granted_minor": 900_000,
        "currency": "USD",
        "grants": 3,
        "input_sha256": round_.input_sha256,
    }
    assert _told(event) == {finance.api_client.pk}


def test_posted_transfers_are_told_to_ledger_readers_one_event_each(
    make_client, finance_officer, reviewer, actor
):
    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")
    first = move(actor, "f-1", source, fund, 500)
    second = move(actor, "f-2", fund, source, 200)
    finance, staff = make_client(finance_officer), make_client(reviewer)
    for client in (finance, staff):
        _subscribe(client, "transfer.posted")
    with transaction.atomic():
        facts.announce(
            facts.TRANSFERS_POSTED,
            transfers=Transfer.objects.filter(pk__in=[first.pk, second.pk]).order_by("sequence"),
        )
    told = Event.objects.filter(type="transfer.posted").order_by("payload__sequence")
    assert [e.payload["sequence"] for e in told] == [first.sequence, second.sequence]
    assert [(e.payload["debit_account"], e.payload["credit_account"]) for e in told] == [
        ("SRC", "FND"),
        ("FND", "SRC"),
    ]
    assert all(_told(e) == {finance.api_client.pk} for e in told)


def test_a_settled_cycle_is_told_to_finance_clients(
    make_client,
    finance_officer,
    reviewer,
    actor,
    world,  # noqa: F811  (the clearing tests' fixture)
):
    cycle = settled(actor, world)
    finance, staff = make_client(finance_officer), make_client(reviewer)
    for client in (finance, staff):
        _subscribe(client, "cycle.settled")
    with transaction.atomic():
        facts.announce(facts.CYCLE_SETTLED, cycle=cycle)
    (event,) = Event.objects.filter(type="cycle.settled")
    assert event.payload["cycle"] == cycle.pk
    assert event.payload["settlement_credit_minor"] == cycle.settlement_credit_minor
    assert _told(event) == {finance.api_client.pk}


def test_a_batch_of_facts_writes_its_events_together(make_client, civilian, reviewer, inspection):
    requests = [submitted(civilian, inspection) for _ in range(3)]
    _subscribe(make_client(reviewer), "request.status_changed")
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), facts.batch():
        for request in requests:
            facts.announce(
                facts.REQUEST_STATUS_CHANGED,
                request=request,
                source=Status.SUBMITTED,
                target=Status.IN_REVIEW,
                transition="start_review",
            )
        assert not Event.objects.exists()  # collected until the batch ends
    sql = [q["sql"] for q in captured.captured_queries]
    assert sum(q.startswith('INSERT INTO "integrations_event"') for q in sql) == 1
    assert Event.objects.filter(type="request.status_changed").count() == 3
