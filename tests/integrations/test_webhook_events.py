"""Events from the other apps reach subscribers without those apps importing integrations:
an approval case's decision and a clearing cycle's settlement."""

from __future__ import annotations

from typing import Any

import pytest

from governance import services as governance
from integrations import outbox
from integrations.models import Delivery, Event, Subscription
from tests.builders import pending_approval
from tests.ledger.test_clearing import media, settled, world  # noqa: F401
from tests.service_requests.test_funding import awaiting, round_fund  # noqa: F401

pytestmark = pytest.mark.django_db


def _subscribe(client: Any, event_type: str, url: str) -> Subscription:
    return Subscription.objects.create(
        client=client.api_client, event_types=[event_type], target_url=url
    )


def test_a_decision_is_told_to_clients_acting_for_the_programs_people(
    make_client,
    supervisor,
    outsider_supervisor,
    reviewer,
    civilian,
    inspection,
    receiver,
    django_capture_on_commit_callbacks,
):
    own = make_client(supervisor)
    other = make_client(outsider_supervisor)
    for client in (own, other):
        _subscribe(client, "case.decided", receiver.url)
    _, case = pending_approval(civilian, reviewer, inspection)
    assert not Event.objects.filter(type="case.decided").exists()
    with django_capture_on_commit_callbacks(execute=True):
        governance.case_decide(actor=supervisor, case_id=case.pk, outcome="approve", reason="Ok.")
    (body,) = receiver.bodies()
    assert body["type"] == "case.decided"
    assert body["data"]["case"] == case.pk
    assert body["data"]["status"] == "approved"
    assert body["data"]["program"] == "housing"
    assert set(Delivery.objects.values_list("subscription__client", flat=True)) == {
        own.api_client.pk
    }


def test_a_settled_cycle_is_told_to_finance_clients(
    make_client,
    finance_officer,
    reviewer,
    actor,
    world,  # noqa: F811  (the clearing tests' fixture)
    receiver,
):
    finance = make_client(finance_officer)
    staff = make_client(reviewer)
    for client in (finance, staff):
        _subscribe(client, "cycle.settled", receiver.url)
    cycle = settled(actor, world)
    (event,) = Event.objects.filter(type="cycle.settled")
    assert event.payload["cycle"] == cycle.pk
    assert event.payload["settlement_credit_minor"] > 0
    assert set(Delivery.objects.values_list("subscription__client", flat=True)) == {
        finance.api_client.pk
    }


def test_posted_transfers_become_events_in_one_batch(
    make_client, finance_officer, actor, receiver, django_capture_on_commit_callbacks
):
    """The integrations side of the ledger's fact: given the posted transfers a service wrote."""
    from django.db import transaction

    from ledger import services as ledger
    from tests.builders import ledger_account, move

    source, fund = ledger_account(actor, "SRC"), ledger_account(actor, "FND")
    posted = move(actor, "p-1", source, fund, 500)
    held = move(actor, "p-2", source, fund, 700, pending=True)
    # Subscribed after the writes, so only the call below can produce the event.
    _subscribe(make_client(finance_officer), "transfer.posted", receiver.url)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ledger.announce_posted([posted, held])  # only the posted one is announced
    (body,) = receiver.bodies()
    assert body["data"]["sequence"] == posted.sequence
    assert (body["data"]["debit_account"], body["data"]["credit_account"]) == ("SRC", "FND")
    assert body["data"]["amount_minor"] == 500


def test_an_event_nobody_subscribed_to_costs_no_query_and_a_new_subscription_is_seen_at_once(
    make_client, supervisor, django_assert_num_queries
):
    from django.db import transaction

    from integrations.services.subscriptions import forget_subscribed_types
    from integrations.services.webhooks import emit

    forget_subscribed_types()
    with transaction.atomic():
        assert emit("case.decided", {"case": 1}) is None  # fills the cache: one query
        with django_assert_num_queries(0):
            assert emit("case.decided", {"case": 1}) is None
    subscription = _subscribe(make_client(supervisor), "case.decided", "https://example.org/h")
    with transaction.atomic():
        event = emit("case.decided", {"case": 2})
    assert event is not None
    assert list(Delivery.objects.filter(event=event).values_list("subscription", flat=True)) == [
        subscription.pk
    ]
    subscription.active = False
    subscription.save()
    with transaction.atomic():
        assert emit("case.decided", {"case": 3}) is None


def test_a_committed_round_tells_status_subscribers_in_one_batch(
    make_client,
    reviewer,
    outsider_supervisor,
    civilian,
    finance_officer,
    supervisor,
    round_fund,  # noqa: F811  (the funding tests' fixture)
    awaiting,  # noqa: F811  (the funding tests' fixture)
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.service_requests.test_funding import _commit

    staff, requester, outsider = (make_client(u) for u in (reviewer, civilian, outsider_supervisor))
    for client in (staff, requester, outsider):
        _subscribe(client, "request.status_changed", "https://receiver.example/hook")
    outbox.subscribed_types()  # the cached set of subscribed types, read once
    with CaptureQueriesContext(connection) as captured:
        _commit(finance_officer, supervisor, round_fund, budget=1_000_000)
    sql = [q["sql"] for q in captured.captured_queries]
    # Three requests moved: one subscription read and one insert of events for all of them.
    assert sum('FROM "integrations_subscription"' in q for q in sql) == 1
    assert sum(q.startswith('INSERT INTO "integrations_event"') for q in sql) == 1
    changed = Event.objects.filter(type="request.status_changed")
    assert sorted(e.payload["tracking_number"] for e in changed) == sorted(
        r.tracking_number for r in awaiting
    )
    assert {e.payload["status"] for e in changed} == {"funded"}
    # The reviewer of the program and the requester hear of each; another program's supervisor
    # of none.
    receivers = Delivery.objects.filter(event__in=changed).values_list(
        "subscription__client", flat=True
    )
    assert sorted(receivers) == sorted([staff.api_client.pk, requester.api_client.pk] * 3)


def test_the_subscribed_types_are_asked_of_the_shared_cache_once_per_interval(monkeypatch):
    """A burst of writes (every ledger transfer asks) reads the shared cache once; a change in
    another process (the shared entry replaced) is seen once the local copy's seconds pass."""
    from django.core.cache import cache

    reads = []
    real_get = cache.get
    monkeypatch.setattr(
        outbox.cache, "get", lambda *args, **kwargs: reads.append(args) or real_get(*args, **kwargs)
    )
    clock = [1000.0]
    monkeypatch.setattr(outbox.time, "monotonic", lambda: clock[0])
    cache.set(outbox.SUBSCRIBED_TYPES_CACHE_KEY, [], 60)
    for _ in range(100):
        assert not outbox.wanted("transfer.posted")
    assert len(reads) == 1
    cache.set(outbox.SUBSCRIBED_TYPES_CACHE_KEY, ["transfer.posted"], 60)  # another process
    clock[0] += outbox.SUBSCRIBED_TYPES_LOCAL_SECONDS - 0.1
    assert not outbox.wanted("transfer.posted")
    clock[0] += 0.2
    assert outbox.wanted("transfer.posted")
    assert len(reads) == 2
